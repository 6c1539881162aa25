# Reference values for infantall.synthesis, computed with R metafor (Viechtbauer 2010).
#
# Run from this folder:  Rscript metafor_reference.R > metafor_reference.json
# Produced with R 4.2.2 and metafor 3.8-1 (Debian bookworm: r-base-core, r-cran-metafor).
#
# Data (typed by hand from seed 004, Kotecha et al. 2014, Leukemia):
#   seed004_table2_efs.csv   Table 2, the 5-year EFS of infant-specific protocols
#                            (UK CLWP rows left out: they report 6-year EFS).
#   seed004_table3_hsct.csv  Table 3, outcomes after allogeneic HSCT in first CR.
# Published KM percentages enter as effective counts xi = percent/100 * n (not rounded).
#
# Iteration tolerances are tightened far below metafor's defaults (threshold 1e-5 for
# REML/ML, uniroot tol eps^0.25 for PM and the Q-profile) so that the printed values are the
# exact roots the Python code solves for; the tests then compare to 1e-6 relative.

suppressMessages(library(metafor))

ctrl <- list(threshold = 1e-13, maxiter = 100000, tol = 1e-13)
ci_ctrl <- list(tol = 1e-13, maxiter = 100000)

num <- function(x) {
  v <- ifelse(is.na(x), "null", sprintf("%.17g", as.numeric(x)))
  if (length(x) == 1) v else paste0("[", paste(v, collapse = ", "), "]")
}
tojson <- function(x) {
  if (is.list(x)) {
    if (length(x) == 0) return("{}")
    if (!is.null(names(x))) {
      items <- vapply(names(x), function(n) sprintf("\"%s\": %s", n, tojson(x[[n]])), "")
      return(paste0("{", paste(items, collapse = ", "), "}"))
    }
    return(paste0("[", paste(vapply(x, tojson, ""), collapse = ", "), "]"))
  }
  if (is.character(x)) {
    v <- sprintf("\"%s\"", x)
    return(if (length(x) == 1) v else paste0("[", paste(v, collapse = ", "), "]"))
  }
  if (is.logical(x)) {
    v <- ifelse(x, "true", "false")
    return(if (length(x) == 1) v else paste0("[", paste(v, collapse = ", "), "]"))
  }
  num(x)
}

measures <- c(logit = "PLO", arcsine = "PAS", "freeman-tukey" = "PFT", raw = "PR")
methods <- c("FE", "DL", "REML", "PM", "ML")

backtransform <- function(measure, x, ni) {
  switch(measure,
    PLO = transf.ilogit(x),
    PAS = transf.iarcsin(x),
    PFT = transf.ipft.hm(x, targs = list(ni = ni)),
    PR = x
  )
}

efs <- read.csv("seed004_table2_efs.csv", check.names = FALSE)
efs$xi <- efs$percent / 100 * efs$n
efs$mid <- (efs$accrual_start + efs$accrual_end) / 2
efs$era <- ifelse(efs$mid < 1995, "1984-1994", "1995-2006")

fit_record <- function(res, measure, ni) {
  pred <- predict(res)
  bt <- function(x) backtransform(measure, x, ni)
  out <- list(
    beta = c(res$beta), se = res$se, zval = res$zval, pval = res$pval,
    ci_lb = res$ci.lb, ci_ub = res$ci.ub, tau2 = res$tau2, QE = res$QE, QEp = res$QEp,
    QM = res$QM, QMp = res$QMp, I2 = res$I2, H2 = res$H2,
    pred_bt = bt(pred$pred), ci_lb_bt = bt(pred$ci.lb), ci_ub_bt = bt(pred$ci.ub),
    pi_lb = if (is.null(pred$pi.lb)) pred$ci.lb else pred$pi.lb,
    pi_ub = if (is.null(pred$pi.ub)) pred$ci.ub else pred$pi.ub
  )
  out$pi_lb_bt <- bt(out$pi_lb)
  out$pi_ub_bt <- bt(out$pi_ub)
  if (res$method != "FE") {
    ci <- confint(res, control = ci_ctrl)$random
    out$tau2_ci <- c(ci["tau^2", "ci.lb"], ci["tau^2", "ci.ub"])
    out$I2_ci <- c(ci["I^2(%)", "ci.lb"], ci["I^2(%)", "ci.ub"])
    out$H2_ci <- c(ci["H^2", "ci.lb"], ci["H^2", "ci.ub"])
  }
  out
}

pooling <- list()
escalc_out <- list()
for (tf in names(measures)) {
  m <- measures[[tf]]
  es <- escalc(measure = m, xi = xi, ni = n, data = efs)
  escalc_out[[tf]] <- list(yi = c(es$yi), vi = c(es$vi))
  for (method in methods) {
    for (test in c("z", "knha")) {
      res <- rma(yi, vi, data = es, method = method, test = test, control = ctrl)
      pooling[[paste(tf, tolower(method), test, sep = "/")]] <- fit_record(res, m, efs$n)
    }
  }
}

# Study-level Miller back-transformation (transf.ipft with each study's n).
es_ft <- escalc(measure = "PFT", xi = xi, ni = n, data = efs)
ipft_study <- transf.ipft(es_ft$yi, efs$n)

# Meta-regression on accrual mid-year (logit scale), and on era (a two-level factor).
es_lo <- escalc(measure = "PLO", xi = xi, ni = n, data = efs)
metareg <- list()
for (method in methods) {
  for (test in c("z", "knha")) {
    res <- rma(yi, vi, mods = ~ mid, data = es_lo, method = method, test = test, control = ctrl)
    pr <- predict(res, newmods = c(1985, 2000), transf = transf.ilogit)
    metareg[[paste("mid", tolower(method), test, sep = "/")]] <- list(
      beta = c(res$beta), se = res$se, pval = res$pval, ci_lb = res$ci.lb, ci_ub = res$ci.ub,
      tau2 = res$tau2, QE = res$QE, QEp = res$QEp, QM = res$QM, QMp = res$QMp,
      I2 = res$I2, H2 = res$H2, R2 = if (is.null(res$R2)) NA else res$R2,
      pred_bt = pr$pred, ci_lb_bt = pr$ci.lb, ci_ub_bt = pr$ci.ub,
      pi_lb_bt = if (is.null(pr$pi.lb)) pr$ci.lb else pr$pi.lb,
      pi_ub_bt = if (is.null(pr$pi.ub)) pr$ci.ub else pr$pi.ub
    )
    if (method != "FE") {
      ci <- confint(res, control = ci_ctrl)$random
      metareg[[paste("mid", tolower(method), test, sep = "/")]]$tau2_ci <-
        c(ci["tau^2", "ci.lb"], ci["tau^2", "ci.ub"])
      metareg[[paste("mid", tolower(method), test, sep = "/")]]$I2_ci <-
        c(ci["I^2(%)", "ci.lb"], ci["I^2(%)", "ci.ub"])
    }
  }
  res <- rma(yi, vi, mods = ~ factor(era), data = es_lo, method = method, control = ctrl)
  metareg[[paste("era", tolower(method), "z", sep = "/")]] <- list(
    beta = c(res$beta), se = res$se, tau2 = res$tau2, QM = res$QM, QMp = res$QMp,
    QE = res$QE, R2 = if (is.null(res$R2)) NA else res$R2
  )
}

# Test of subgroup differences with a separate tau^2 per subgroup:
# pool each subgroup, then Q of a fixed-effect model over the subgroup estimates.
subgroup_test <- function(es, by, method) {
  levels <- sort(unique(es[[by]]))
  est <- c(); se <- c(); pooled <- c()
  for (g in levels) {
    d <- es[es[[by]] == g, ]
    if (nrow(d) == 1) {
      est <- c(est, d$yi); se <- c(se, sqrt(d$vi)); pooled <- c(pooled, transf.ilogit(d$yi))
    } else {
      r <- rma(yi, vi, data = d, method = method, control = ctrl)
      est <- c(est, c(r$beta)); se <- c(se, r$se); pooled <- c(pooled, transf.ilogit(c(r$beta)))
    }
  }
  fe <- rma(est, sei = se, method = "FE")
  list(levels = levels, theta = est, theta_se = se, pooled_bt = pooled, QB = fe$QE, QBp = fe$QEp)
}
subgroups <- list(
  "era/reml" = subgroup_test(es_lo, "era", "REML"),
  "era/dl" = subgroup_test(es_lo, "era", "DL"),
  "group/reml" = subgroup_test(es_lo, "group", "REML")
)

# Leave-one-out and influence (logit, REML).
res_reml <- rma(yi, vi, data = es_lo, method = "REML", control = ctrl)
l1o <- leave1out(res_reml)
l1o_knha <- leave1out(rma(yi, vi, data = es_lo, method = "REML", test = "knha", control = ctrl))
inf <- influence(res_reml)
res_mid <- rma(yi, vi, mods = ~ mid, data = es_lo, method = "REML", control = ctrl)
inf_mid <- influence(res_mid)
res_knha <- rma(yi, vi, data = es_lo, method = "REML", test = "knha", control = ctrl)
inf_knha <- influence(res_knha)
inf_list <- function(i, model) {
  list(rstudent = i$inf$rstudent, dffits = i$inf$dffits, cook_d = i$inf$cook.d,
       cov_r = i$inf$cov.r, tau2_del = i$inf$tau2.del, QE_del = i$inf$QE.del,
       hat = i$inf$hat, weight = i$inf$weight, dfbs = lapply(as.list(dfbetas(model)), c))
}

# HSCT in first CR (Table 3): real counts; AIEOP relapse 0/6 exercises the continuity rule.
hsct <- read.csv("seed004_table3_hsct.csv", check.names = FALSE)
hsct_out <- list()
for (outcome in c("continued_cr1", "death_in_cr", "relapse")) {
  es <- escalc(measure = "PLO", xi = hsct[[outcome]], ni = hsct$n_hsct)
  r <- rma(yi, vi, data = es, method = "REML", control = ctrl)
  pr <- predict(r, transf = transf.ilogit)
  hsct_out[[outcome]] <- list(
    yi = c(es$yi), vi = c(es$vi), tau2 = r$tau2, pred_bt = pr$pred,
    ci_lb_bt = pr$ci.lb, ci_ub_bt = pr$ci.ub, pi_lb_bt = pr$pi.lb, pi_ub_bt = pr$pi.ub,
    I2 = r$I2, QE = r$QE, QEp = r$QEp
  )
}

# Egger-type regression test for funnel-plot asymmetry (regtest: model "rma", predictor "sei").
regtests <- list()
for (method in c("FE", "REML", "DL")) {
  rt <- regtest(rma(yi, vi, data = es_lo, method = method, control = ctrl))
  regtests[[tolower(method)]] <- list(zval = rt$zval, pval = rt$pval, est = rt$est,
                                      slope = c(rt$fit$beta)[2])
}

out <- list(
  software = list(R = R.version.string, metafor = as.character(packageVersion("metafor"))),
  escalc = escalc_out,
  ipft_study = ipft_study,
  pooling = pooling,
  metareg = metareg,
  subgroups = subgroups,
  leave1out = list(
    estimate = c(l1o$estimate), se = c(l1o$se), ci_lb = c(l1o$ci.lb), ci_ub = c(l1o$ci.ub),
    Q = c(l1o$Q), Qp = c(l1o$Qp), tau2 = c(l1o$tau2), I2 = c(l1o$I2), H2 = c(l1o$H2)
  ),
  leave1out_knha = list(estimate = c(l1o_knha$estimate), se = c(l1o_knha$se),
                        ci_lb = c(l1o_knha$ci.lb), ci_ub = c(l1o_knha$ci.ub)),
  influence = inf_list(inf, res_reml),
  influence_mid = inf_list(inf_mid, res_mid),
  influence_knha = inf_list(inf_knha, res_knha),
  hsct = hsct_out,
  regtest = regtests
)
cat(tojson(out), "\n")
