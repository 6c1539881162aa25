# Reference values for infantall.synthesis.glmm (tests/synthesis/test_glmm.py):
# metafor rma.glmm(measure = "PLO"), the binomial-normal random-effects model by ML (lme4 glmer,
# adaptive Gauss-Hermite quadrature, nAGQ = 7 by metafor's default).
# Run: Rscript glmm_metafor.R   (writes glmm_metafor.json)
suppressPackageStartupMessages(library(metafor))
cases <- list(
  pritz1997 = list(xi = dat.pritz1997$xi, ni = dat.pritz1997$ni),
  # a rare-event set: few events per study
  rare = list(xi = c(0, 1, 2, 0, 1, 3, 1), ni = c(55, 80, 120, 40, 95, 150, 70))
)
out <- c()
for (nm in names(cases)) {
  d <- cases[[nm]]
  fit <- rma.glmm(measure = "PLO", xi = d$xi, ni = d$ni)
  fit1 <- rma.glmm(measure = "PLO", xi = d$xi, ni = d$ni, control = list(nAGQ = 1))
  out <- c(out, sprintf(paste0('  "%s": {"xi": [%s], "ni": [%s], "beta": %.12g, "se": %.12g, ',
    '"tau2": %.12g, "loglik": %.12g, "pct": %.12g, "beta_nagq1": %.12g, "tau2_nagq1": %.12g}'),
    nm, paste(d$xi, collapse = ", "), paste(d$ni, collapse = ", "), fit$beta[1], fit$se,
    fit$tau2, as.numeric(logLik(fit)), 100 * plogis(fit$beta[1]), fit1$beta[1], fit1$tau2))
}
writeLines(c("{", paste(out, collapse = ",\n"),
             sprintf(',  "session": "%s, metafor %s, lme4 %s"', R.version.string,
                     packageVersion("metafor"), packageVersion("lme4")), "}"), "glmm_metafor.json")
