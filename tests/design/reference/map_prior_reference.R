# Reference values for infantall.design.borrowing.map_prior (tests/design/test_borrowing.py).
# rstan cannot compile here (package BH missing), so the independent computation is numerical
# integration in R: each study's marginal likelihood by stats::integrate (adaptive
# Gauss-Kronrod) on a (mu, tau) midpoint grid; predictive CDF by summing pnorm over the grid,
# each mu cell of width h counted as Normal(mu, tau^2 + h^2/12); quantiles by uniroot.
# Run: Rscript map_prior_reference.R   (writes map_prior_reference.json)
marg <- function(y, n, mu, tau) {
  f <- function(t) dbinom(y, n, plogis(t)) * dnorm(t, mu, tau)
  integrate(f, mu - 12 * tau, mu + 12 * tau, rel.tol = 1e-10, abs.tol = 0)$value
}
run <- function(y, n, m0, s0, tau_scale, tau_kind, mu_lo, mu_hi, tau_hi, nmu = 120, ntau = 120) {
  hm <- (mu_hi - mu_lo) / nmu; ht <- tau_hi / ntau
  mu <- mu_lo + hm * (seq_len(nmu) - 0.5); tau <- ht * (seq_len(ntau) - 0.5)
  lp <- matrix(0, nmu, ntau)
  for (a in seq_len(nmu)) for (b in seq_len(ntau)) {
    ll <- 0
    for (i in seq_along(y)) ll <- ll + log(marg(y[i], n[i], mu[a], tau[b]))
    prior_tau <- if (tau_kind == "halfnormal") dnorm(tau[b], 0, tau_scale, log = TRUE)
                 else dcauchy(tau[b], 0, tau_scale, log = TRUE)
    lp[a, b] <- ll + dnorm(mu[a], m0, s0, log = TRUE) + prior_tau
  }
  w <- exp(lp - max(lp)); w <- w / sum(w)
  M <- matrix(mu, nmu, ntau); S <- sqrt(matrix(tau, nmu, ntau, byrow = TRUE)^2 + hm^2 / 12)
  cdf <- function(p) sum(w * pnorm((qlogis(p) - M) / S))
  q <- sapply(c(0.025, 0.5, 0.975), function(pr) uniroot(function(p) cdf(p) - pr,
              c(1e-6, 1 - 1e-6), tol = 1e-12)$root)
  gh <- function(m, s) integrate(function(t) plogis(t) * dnorm(t, m, s), -Inf, Inf)$value
  list(y = y, n = n, m0 = m0, s0 = s0, tau_scale = tau_scale, tau_kind = tau_kind,
       q025 = q[1], q500 = q[2], q975 = q[3])
}
out <- list(
  # RBesT's AS data set (Baeten et al. 2013) as in RBesT's vignette: beta.prior = 2, HalfNormal(1)
  AS = run(c(23, 12, 19, 9, 39, 6, 9, 10), c(107, 44, 51, 39, 139, 20, 78, 35), 0, 2, 1,
           "halfnormal", -2.2, 0.0, 2.5),
  # three KMT2A-r-like EFS counts, half-Cauchy(0.5)
  small = run(c(31, 174, 50), c(80, 476, 146), 0, 2, 0.5, "halfcauchy", -2.5, 1.0, 6.0)
)
fmt <- function(v) {
  f <- sapply(names(v), function(k) {
    x <- v[[k]]
    if (is.character(x)) sprintf('"%s": "%s"', k, x)
    else if (length(x) > 1) sprintf('"%s": [%s]', k, paste(format(x, digits = 12), collapse = ", "))
    else sprintf('"%s": %s', k, format(x, digits = 12))
  })
  paste0("{", paste(f, collapse = ", "), "}")
}
writeLines(c("{", paste0('  "AS": ', fmt(out$AS), ","), paste0('  "small": ', fmt(out$small), ","),
             paste0('  "session": "', R.version.string, '"'), "}"), "map_prior_reference.json")
