# Reference values of the median follow-up by reverse Kaplan-Meier
# (infantall.outcomes.followup.reverse_km_follow_up), written to followup_reference.json.
#
# Run in this folder:  Rscript make_followup_reference.R
# The reverse Kaplan-Meier (Schemper & Smith 1996) swaps the roles of event and censoring:
# survfit(Surv(time, 1 - status) ~ 1); its quantiles 0.25, 0.5, 0.75 are the first quartile,
# the median and the third quartile of the potential follow-up.
suppressPackageStartupMessages({library(survival); library(jsonlite)})

one <- function(time, status, name) {
  fit <- survfit(Surv(time, 1 - status) ~ 1)
  q <- quantile(fit, c(0.25, 0.5, 0.75))
  list(name = name, n = length(time), events = sum(status),
       q1 = unname(q$quantile[1]), median = unname(q$quantile[2]), q3 = unname(q$quantile[3]),
       median_lower = unname(q$lower[2]), median_upper = unname(q$upper[2]))
}

lung <- read.csv("lung.csv")           # survival::lung, event = status 2 (written by make_reference.R)
veteran <- read.csv("veteran.csv")     # survival::veteran
aml <- survival::aml                   # survival::aml (Miller 1981), written here
write.csv(aml[, c("time", "status", "x")], "aml.csv", row.names = FALSE)

out <- list(
  meta = list(r = R.version.string, survival = as.character(packageVersion("survival")),
              call = "quantile(survfit(Surv(time, 1 - status) ~ 1), c(0.25, 0.5, 0.75))"),
  cases = list(
    one(lung$time, lung$event, "lung"),
    one(veteran$time, veteran$status, "veteran"),
    one(aml$time, aml$status, "aml")
  )
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE),
           "followup_reference.json")
