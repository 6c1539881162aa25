# Reference values for tests/design/test_groupseq_bounds.py and test_simon.py.
# Run from the repository root:  Rscript tests/design/reference/make_reference_gs.R
# Writes tests/design/reference/gs_reference.json (rpact designs, power, conditional power)
# and simon_reference.json (an independent brute-force enumeration of Simon's designs in R).
suppressPackageStartupMessages(library(rpact))
suppressPackageStartupMessages(library(jsonlite))

out <- list(r_version = R.version.string, rpact_version = as.character(packageVersion("rpact")))

# 1. Beta-spending futility bounds -----------------------------------------------------
bs_cases <- list(
  list(kMax = 3, type = "asOF", bs = "bsOF", binding = FALSE),
  list(kMax = 3, type = "asOF", bs = "bsOF", binding = TRUE),
  list(kMax = 4, type = "asP", bs = "bsP", binding = FALSE),
  list(kMax = 4, type = "asOF", bs = "bsP", binding = TRUE),
  list(kMax = 3, type = "asP", bs = "bsOF", binding = FALSE, rates = c(0.4, 0.7, 1))
)
out$beta_spending <- lapply(bs_cases, function(cs) {
  rates <- if (is.null(cs$rates)) (1:cs$kMax) / cs$kMax else cs$rates
  d <- getDesignGroupSequential(kMax = cs$kMax, alpha = 0.025, beta = 0.2,
                                typeOfDesign = cs$type, typeBetaSpending = cs$bs,
                                bindingFutility = cs$binding, informationRates = rates)
  ch <- getDesignCharacteristics(d)
  p <- getPowerAndAverageSampleNumber(d, theta = c(0, 0.25), nMax = 150)
  list(kmax = cs$kMax, type = cs$type, beta_spending = cs$bs, binding = cs$binding,
       information_rates = rates, critical_values = d$criticalValues,
       futility_bounds = d$futilityBounds, shift = ch$shift, power_by_stage = ch$power,
       theta = c(0, 0.25), n_max = 150,
       overall_reject = p$overallReject, early_stop = p$earlyStop,
       expected_n = p$averageSampleNumber,
       futility_per_stage = p$futilityPerStage, reject_per_stage = p$rejectPerStage)
})

# 2. Classic boundary families ---------------------------------------------------------
cl_cases <- list(
  list(kMax = 4, type = "OF"), list(kMax = 3, type = "P"),
  list(kMax = 5, type = "WT", deltaWT = 0.25), list(kMax = 4, type = "HP"),
  list(kMax = 3, type = "HP", hp = 2.5), list(kMax = 3, type = "OF", rates = c(0.3, 0.6, 1))
)
out$classic <- lapply(cl_cases, function(cs) {
  rates <- if (is.null(cs$rates)) (1:cs$kMax) / cs$kMax else cs$rates
  args <- list(kMax = cs$kMax, alpha = 0.025, typeOfDesign = cs$type, informationRates = rates)
  if (!is.null(cs$deltaWT)) args$deltaWT <- cs$deltaWT
  if (!is.null(cs$hp)) args$constantBoundsHP <- cs$hp
  d <- do.call(getDesignGroupSequential, args)
  p <- getPowerAndAverageSampleNumber(d, theta = c(0, 0.3), nMax = 100)
  list(kmax = cs$kMax, type = cs$type, delta_wt = if (is.null(cs$deltaWT)) 0 else cs$deltaWT,
       hp = if (is.null(cs$hp)) 3 else cs$hp, information_rates = rates,
       critical_values = d$criticalValues, theta = c(0, 0.3), n_max = 100,
       overall_reject = p$overallReject, expected_n = p$averageSampleNumber,
       reject_per_stage = p$rejectPerStage)
})

# 3. Conditional power -----------------------------------------------------------------
# two groups 1:1, total n per stage, mean difference theta_h1 and sd: standardized effect per
# unit of total sample size = theta_h1 / (2 sd).
ds <- getDataset(n1 = c(20), n2 = c(20), means1 = c(1.2), means2 = c(0.5),
                 stDevs1 = c(1.5), stDevs2 = c(1.4))
d3 <- getDesignGroupSequential(kMax = 3, alpha = 0.025, typeOfDesign = "asOF")
sr <- getStageResults(d3, dataInput = ds, stage = 1, normalApproximation = TRUE)
cp <- getConditionalPower(sr, nPlanned = c(40, 40), thetaH1 = 0.6, assumedStDev = 1.5)
# planned sizes follow the design's information rates (40 of 200 at the first look)
d4 <- getDesignGroupSequential(kMax = 4, alpha = 0.025, typeOfDesign = "asP",
                               informationRates = c(0.2, 0.5, 0.7, 1))
sr4 <- getStageResults(d4, dataInput = ds, stage = 1, normalApproximation = TRUE)
cp4 <- getConditionalPower(sr4, nPlanned = c(60, 40, 60), thetaH1 = 0.4, assumedStDev = 1.5)
di <- getDesignInverseNormal(kMax = 2, alpha = 0.025, typeOfDesign = "asOF")
sri <- getStageResults(di, dataInput = ds, stage = 1, normalApproximation = TRUE)
cpi <- getConditionalPower(sri, nPlanned = c(57), thetaH1 = 0.6, assumedStDev = 1.5)
out$conditional_power <- list(
  list(critical_values = d3$criticalValues, sample_sizes = c(40, 80, 120),
       z = sr$overallTestStatistics[1], theta = 0.6 / 3, cp = cp$conditionalPower[2:3]),
  list(critical_values = d4$criticalValues, sample_sizes = c(40, 100, 140, 200),
       z = sr4$overallTestStatistics[1], theta = 0.4 / 3, cp = cp4$conditionalPower[2:4])
)
out$inverse_normal_cp <- list(critical_values = di$criticalValues, n1 = 40, n2 = 57,
                              z1 = sri$combInverseNormal[1], theta = 0.6 / 3,
                              weights = sqrt(c(0.5, 0.5)), cp = cpi$conditionalPower[2])
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
      "tests/design/reference/gs_reference.json")

# 4. Simon two-stage designs by brute-force enumeration (independent of the Python code) --
simon <- function(p0, p1, alpha, beta, nmax, kind) {
  best <- NULL
  for (n in 2:nmax) {
    for (n1 in 1:(n - 1)) {
      n2 <- n - n1
      for (r1 in 0:n1) {
        x1 <- (r1 + 1):n1
        if (r1 >= n1) next
        for (r in r1:n) {
          a <- sum(dbinom(x1, n1, p0) * pbinom(r - x1, n2, p0, lower.tail = FALSE))
          if (a <= alpha + 1e-12) {
            pw <- sum(dbinom(x1, n1, p1) * pbinom(r - x1, n2, p1, lower.tail = FALSE))
            if (pw >= 1 - beta - 1e-12) {
              pet <- pbinom(r1, n1, p0)
              en <- n1 + (1 - pet) * n2
              key <- if (kind == "optimal") c(en, n) else c(n, en)
              if (is.null(best) || key[1] < best$key[1] - 1e-12 ||
                  (abs(key[1] - best$key[1]) <= 1e-12 && key[2] < best$key[2])) {
                best <- list(key = key, r1 = r1, n1 = n1, r = r, n = n, en0 = en, pet0 = pet,
                             alpha = a, power = pw)
              }
            }
            break
          }
        }
      }
    }
    if (kind == "minimax" && !is.null(best)) break
  }
  best$key <- NULL
  best
}
cases <- list(c(0.05, 0.25), c(0.1, 0.3), c(0.2, 0.4), c(0.3, 0.5))
simon_out <- list()
for (cs in cases) for (kind in c("optimal", "minimax")) {
  nmax <- 60
  s <- simon(cs[1], cs[2], 0.05, 0.2, nmax, kind)
  simon_out[[length(simon_out) + 1]] <- c(list(p0 = cs[1], p1 = cs[2], alpha = 0.05,
                                               beta = 0.2, kind = kind, n_max = nmax), s)
}
write(toJSON(list(r_version = R.version.string, designs = simon_out), digits = NA,
             auto_unbox = TRUE, pretty = TRUE),
      "tests/design/reference/simon_reference.json")
