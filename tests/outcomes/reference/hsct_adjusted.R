# Reference values for the adjusted HSCT analyses (tests/outcomes/test_outcomes_hsct_adjusted.py).
# Input: hsct_adjusted_cohort.csv (make_hsct_adjusted_csv.py; SYNTHETIC cohort, seed 1).
# Run from this folder: Rscript hsct_adjusted.R   (R survival 3.5.3)
library(survival)
d <- read.csv("hsct_adjusted_cohort.csv")
# counting-process data built by tmerge (independently of infantall's split_at)
cp <- tmerge(d[, c("id", "risk")], d, id = id, event = event(time, status))
cp <- tmerge(cp, d, id = id, hsct = tdc(hsct_day), mrd = tdc(mrd_day))
cp$hsct[is.na(cp$hsct)] <- 0
cp$mrd[is.na(cp$mrd)] <- 0
cox_vals <- function(fit) {
  s <- summary(fit)
  list(coef = unname(coef(fit)), se = unname(sqrt(diag(vcov(fit)))),
       hr = unname(s$conf.int[, 1]), lower = unname(s$conf.int[, 3]),
       upper = unname(s$conf.int[, 4]), p = unname(s$coefficients[, 5]),
       loglik = fit$loglik, nevent = fit$nevent, n_rows = nrow(cp))
}
out <- list()
out$rows <- nrow(cp)
out$unadjusted <- cox_vals(coxph(Surv(tstart, tstop, event) ~ hsct, data = cp))
out$covariate <- cox_vals(coxph(Surv(tstart, tstop, event) ~ hsct + mrd + strata(risk), data = cp))
out$strata <- cox_vals(coxph(Surv(tstart, tstop, event) ~ hsct + strata(risk, mrd), data = cp))
# landmark at the median HSCT day: patients still at risk, HSCT by the landmark
L <- median(d$hsct_day, na.rm = TRUE)
lm <- d[d$time > L, ]
lm$hsct <- as.integer(!is.na(lm$hsct_day) & lm$hsct_day <= L)
lm$mrd <- as.integer(!is.na(lm$mrd_day) & lm$mrd_day <= L)
lm$t <- lm$time - L
out$landmark_time <- L
out$landmark <- cox_vals(coxph(Surv(t, status) ~ hsct, data = lm))
out$landmark_strata <- cox_vals(coxph(Surv(t, status) ~ hsct + strata(risk, mrd), data = lm))
km <- survfit(Surv(t, status) ~ hsct, data = lm)
out$landmark_surv_3y <- unname(summary(km, times = 3 * 365.25, extend = TRUE)$surv)
jsonlite::write_json(out, "hsct_adjusted_reference.json", digits = NA, auto_unbox = TRUE,
                     pretty = TRUE)
