# Reference values for tests/design (infantall.design), produced with rpact and base R.
# Run from the repository root:  Rscript tests/design/reference/make_reference.R
# Writes tests/design/reference/rpact_reference.json. Time unit: years.
suppressPackageStartupMessages(library(rpact))
suppressPackageStartupMessages(library(jsonlite))

out <- list(
  r_version = R.version.string,
  rpact_version = as.character(packageVersion("rpact"))
)

# 1. Lan-DeMets group-sequential boundaries ------------------------------------------
gsd_cases <- list(
  list(kMax = 3, alpha = 0.025, sided = 1, type = "asOF"),
  list(kMax = 5, alpha = 0.025, sided = 1, type = "asOF"),
  list(kMax = 4, alpha = 0.025, sided = 1, type = "asP"),
  list(kMax = 3, alpha = 0.05, sided = 2, type = "asOF"),
  list(kMax = 4, alpha = 0.05, sided = 2, type = "asP"),
  list(kMax = 3, alpha = 0.025, sided = 1, type = "asOF", rates = c(0.3, 0.7, 1))
)
out$gsd <- lapply(gsd_cases, function(cs) {
  rates <- if (is.null(cs$rates)) (1:cs$kMax) / cs$kMax else cs$rates
  d <- getDesignGroupSequential(kMax = cs$kMax, alpha = cs$alpha, sided = cs$sided,
                                typeOfDesign = cs$type, informationRates = rates,
                                beta = 0.2)
  ch <- getDesignCharacteristics(d)
  list(kmax = cs$kMax, alpha = cs$alpha, sided = cs$sided, type = cs$type,
       information_rates = rates,
       critical_values = d$criticalValues, stage_levels = d$stageLevels,
       alpha_spent = d$alphaSpent, inflation_factor_power80 = ch$inflationFactor)
})

# 2. Survival sample size ----------------------------------------------------------------
surv_cases <- list(
  list(id = "schoenfeld_uniform", method = "Schoenfeld", hr = 0.6, median2 = 2,
       accrualTime = c(0, 3), accrualIntensity = NULL, followUp = 2),
  list(id = "freedman_uniform", method = "Freedman", hr = 0.6, median2 = 2,
       accrualTime = c(0, 3), accrualIntensity = NULL, followUp = 2),
  list(id = "rate30_dropout", method = "Schoenfeld", hr = 0.6, median2 = 2,
       accrualTime = 0, accrualIntensity = 30, followUp = 2, dropout = 0.05),
  list(id = "piecewise_accrual", method = "Schoenfeld", hr = 0.7, median2 = 3,
       accrualTime = c(0, 1), accrualIntensity = c(10, 40), followUp = 3),
  list(id = "allocation2_twosided", method = "Schoenfeld", hr = 0.65, median2 = 1.5,
       accrualTime = c(0, 4), accrualIntensity = NULL, followUp = 1.5, alloc = 2,
       sided = 2, alpha = 0.05, power = 0.9),
  list(id = "piecewise_survival", method = "Schoenfeld", hr = 0.6,
       pwTime = c(0, 0.5, 2), lambda2 = c(0.8, 0.4, 0.05),
       accrualTime = c(0, 5), accrualIntensity = NULL, followUp = 2, dropout = 0.1),
  list(id = "group_sequential_of3", method = "Schoenfeld", hr = 0.6, median2 = 2,
       accrualTime = c(0, 3), accrualIntensity = NULL, followUp = 2, kMax = 3)
)
out$survival <- lapply(surv_cases, function(cs) {
  alpha <- if (is.null(cs$alpha)) 0.025 else cs$alpha
  sided <- if (is.null(cs$sided)) 1 else cs$sided
  power <- if (is.null(cs$power)) 0.8 else cs$power
  kMax <- if (is.null(cs$kMax)) 1 else cs$kMax
  design <- getDesignGroupSequential(kMax = kMax, alpha = alpha, sided = sided,
                                     beta = 1 - power, typeOfDesign = "asOF")
  dropout <- if (is.null(cs$dropout)) 0 else cs$dropout
  alloc <- if (is.null(cs$alloc)) 1 else cs$alloc
  args <- list(design = design, hazardRatio = cs$hr, typeOfComputation = cs$method,
               accrualTime = cs$accrualTime, followUpTime = cs$followUp,
               dropoutRate1 = dropout, dropoutRate2 = dropout, dropoutTime = 1,
               allocationRatioPlanned = alloc)
  if (!is.null(cs$accrualIntensity)) args$accrualIntensity <- cs$accrualIntensity
  if (!is.null(cs$pwTime)) {
    args$piecewiseSurvivalTime <- cs$pwTime
    args$lambda2 <- cs$lambda2
  } else {
    args$lambda2 <- log(2) / cs$median2
  }
  s <- do.call(getSampleSizeSurvival, args)
  list(id = cs$id, method = tolower(cs$method), hazard_ratio = cs$hr, alpha = alpha,
       sided = sided, power = power, kmax = kMax, allocation_ratio = alloc,
       dropout_rate = dropout, follow_up = cs$followUp,
       accrual_time = cs$accrualTime,
       accrual_intensity = if (is.null(cs$accrualIntensity)) NULL else cs$accrualIntensity,
       median_control = if (is.null(cs$median2)) NULL else cs$median2,
       piecewise_time = if (is.null(cs$pwTime)) NULL else cs$pwTime,
       lambda2 = if (is.null(cs$pwTime)) NULL else cs$lambda2,
       max_events = s$maxNumberOfEvents, max_subjects = s$maxNumberOfSubjects,
       accrual_end = s$totalAccrualTime)
})

# 3. Exact single-arm binomial designs (enumeration with pbinom) -----------------------
exact_design <- function(p0, p1, alpha, power, nmax = 1000) {
  for (n in 1:nmax) {
    r <- 0:(n + 1)
    size <- 1 - pbinom(r - 1, n, p0)
    rc <- r[which(size <= alpha)[1]]
    pw <- 1 - pbinom(rc - 1, n, p1)
    if (pw >= power) {
      return(list(p0 = p0, p1 = p1, alpha = alpha, power = power, n = n, r = rc,
                  alpha_actual = 1 - pbinom(rc - 1, n, p0), power_actual = pw))
    }
  }
}
out$binomial <- list(
  exact_design(0.05, 0.20, 0.05, 0.80),
  exact_design(0.494, 0.65, 0.05, 0.80),
  exact_design(0.494, 0.816, 0.025, 0.90),
  exact_design(0.40, 0.60, 0.10, 0.80),
  exact_design(0.20, 0.40, 0.05, 0.90)
)
bt <- binom.test(24, 30, 0.494, alternative = "greater")
ci <- binom.test(24, 30, 0.494)$conf.int
out$binomial_test <- list(successes = 24, n = 30, p0 = 0.494, p_value = bt$p.value,
                          ci_low = ci[1], ci_high = ci[2])

# 4. One-sample log-rank statistic on a small data set (base R) ------------------------
time <- c(0.2, 0.5, 0.9, 1.1, 1.4, 1.8, 2.0, 2.5, 3.0, 3.3, 0.7, 2.2)
event <- c(1, 0, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0)
starts <- c(0, 1, 2)
hazards <- c(0.5, 0.3, 0.1)
cumhaz <- function(t) {
  ends <- c(starts[-1], Inf)
  sum(pmin(pmax(t - starts, 0), ends - starts) * hazards)
}
E <- sum(sapply(time, cumhaz))
O <- sum(event)
out$one_sample_logrank <- list(time = time, event = event, starts = starts,
                               hazards = hazards, observed = O, expected = E,
                               z = (O - E) / sqrt(E), p_improvement = pnorm((O - E) / sqrt(E)))

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           "tests/design/reference/rpact_reference.json")
cat("written tests/design/reference/rpact_reference.json\n")
