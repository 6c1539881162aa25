# Reference values for the edge cases of issue 22 (tests/outcomes/test_outcomes_edges.py).
# Run from this folder:  Rscript make_edges.R   -> edges.json (uses lung.csv written by
# make_reference.R). Each value is what R survival / cmprsk report on the same data.
suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
})
num <- function(x) ifelse(is.na(x), "null", sprintf("%.17g", x))
arr <- function(x) paste0("[", paste(num(as.numeric(x)), collapse = ","), "]")
lung <- read.csv("lung.csv")
lung$w <- 1 + (seq_len(nrow(lung)) %% 3) / 2
out <- list()

# 1. weighted concordance of a weighted Cox fit (each comparable pair weighted w_i * w_j)
fw <- coxph(Surv(time, event) ~ age + sex, data = lung, weights = w)
out$weighted_coef <- arr(coef(fw))
out$weighted_concordance <- num(fw$concordance[["concordance"]])
out$weighted_concordance_fn <- num(concordance(fw)$concordance)
fu <- coxph(Surv(time, event) ~ age + sex, data = lung)
out$unweighted_concordance <- num(fu$concordance[["concordance"]])

# 2. survival at a horizon before the first observed time (lung's first time is 5)
km <- survfit(Surv(time, event) ~ 1, data = lung, conf.type = "log-log")
s <- summary(km, times = c(0, 2, 100))
out$at_times <- arr(s$time)
out$at_surv <- arr(s$surv)
out$at_lower <- arr(s$lower)
out$at_upper <- arr(s$upper)
out$at_std_err <- arr(s$std.err)

# 3. monotone likelihood: a binary covariate whose level 1 has no events
mono <- data.frame(time = c(1:20), event = rep(c(1, 0), 10), z = c(rep(0, 10), rep(1, 10)),
                   x = sin(1:20))
mono$event[mono$z == 1] <- 0
warned <- FALSE
fm <- withCallingHandlers(coxph(Surv(time, event) ~ z + x, data = mono),
  warning = function(w) { warned <<- TRUE; invokeRestart("muffleWarning") })
out$monotone_warned <- if (warned) "true" else "false"
out$monotone_coef_z <- num(coef(fm)[["z"]])
write.csv(mono, "monotone.csv", row.names = FALSE)

# 5. invalid weights: R refuses them
msg <- tryCatch({coxph(Surv(time, event) ~ age, data = lung, weights = rep(-1, nrow(lung))); ""},
                error = function(e) conditionMessage(e))
out$negative_weight_error <- paste0("\"", gsub("\"", "'", msg), "\"")

# cox.zph(transform = "rank"): g(t) = rank of the stop times (average ranks of ties)
lungc <- lung[!is.na(lung$ph_ecog), ]
for (ties in c("efron", "breslow")) {
  z <- cox.zph(coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lungc, ties = ties),
               transform = "rank")
  out[[paste0("zph_rank_lung_", ties)]] <- arr(z$table[, "chisq"])
}
z <- cox.zph(coxph(Surv(time, event) ~ age + ph_ecog + strata(sex), data = lungc),
             transform = "rank")
out$zph_rank_lung_strata <- arr(z$table[, "chisq"])
heart <- read.csv("heart.csv")
z <- cox.zph(coxph(Surv(start, stop, event) ~ transplant + age + surgery, data = heart),
             transform = "rank")
out$zph_rank_heart <- arr(z$table[, "chisq"])

# robust (sandwich) variance and robust score test, cluster = (row %% 20), with case weights
lung$cl <- seq_len(nrow(lung)) %% 20
for (ties in c("efron", "breslow")) {
  f <- coxph(Surv(time, event) ~ age + sex, data = lung, ties = ties, cluster = cl)
  out[[paste0("robust_", ties, "_var")]] <- arr(f$var)
  out[[paste0("robust_", ties, "_naive")]] <- arr(f$naive.var)
  out[[paste0("robust_", ties, "_rscore")]] <- num(f$rscore)
  fw <- coxph(Surv(time, event) ~ age + sex, data = lung, ties = ties, weights = w, robust = TRUE)
  out[[paste0("robust_w_", ties, "_var")]] <- arr(fw$var)
  out[[paste0("robust_w_", ties, "_rscore")]] <- num(fw$rscore)
}

# baseline cumulative hazard (covariates at their means) and predicted survival
for (ties in c("efron", "breslow")) {
  f <- coxph(Surv(time, event) ~ age + sex, data = lung, ties = ties)
  sf <- survfit(f)
  out[[paste0("basehaz_", ties, "_time")]] <- arr(sf$time[sf$n.event > 0])
  out[[paste0("basehaz_", ties, "_cumhaz")]] <- arr(sf$cumhaz[sf$n.event > 0])
  nd <- data.frame(age = c(50, 70), sex = c(1, 2))
  sp <- summary(survfit(f, newdata = nd), times = c(100, 300, 500))
  out[[paste0("predict_", ties, "_surv")]] <- arr(t(sp$surv))  # row = subject
}

body <- paste0("\"", names(out), "\":", unlist(out), collapse = ",\n")
meta <- sprintf("\"meta\":{\"R\":\"%s\",\"survival\":\"%s\",\"cmprsk\":\"%s\"}", R.version.string,
                format(packageVersion("survival")), format(packageVersion("cmprsk")))
writeLines(paste0("{", meta, ",\n", body, "}"), "edges.json")
