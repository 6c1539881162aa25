# Reference for tests/federation: R's stratified Cox on the simulated nodes.
# simulated_nodes.csv is tests/federation/_data.py::simulated() (seed 21), written by:
#   PYTHONPATH=src:tests python -c "from federation._data import simulated; \
#     simulated().to_csv('tests/federation/reference/simulated_nodes.csv', index=False)"
# Run: Rscript tests/federation/reference/make_reference.R (from the repository root)
library(survival)
d <- read.csv("tests/federation/reference/simulated_nodes.csv")
fit <- coxph(Surv(time, event) ~ log_wbc + kmt2a_r + strata(node), data = d, ties = "efron")
out <- sprintf('{"call": "coxph(Surv(time, event) ~ log_wbc + kmt2a_r + strata(node))", "R": "%s", "survival": "%s", "coef": [%.15g, %.15g], "se": [%.15g, %.15g]}\n',
  R.version.string, packageVersion("survival"), coef(fit)[1], coef(fit)[2],
  sqrt(diag(vcov(fit)))[1], sqrt(diag(vcov(fit)))[2])
cat(out, file = "tests/federation/reference/stratified_cox.json")
