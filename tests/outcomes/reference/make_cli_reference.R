# Reference values for the statistician's CLI (`infantall analyze finegray|cox|cif`),
# produced with R's survival and cmprsk packages on the public Mayo PBC data set.
#
# Run from this folder:  Rscript make_cli_reference.R
# It writes pbc.csv (survival::pbc: time in days, status 0 censored / 1 transplant / 2 dead,
# stage 1-4 with 6 missing values) and cli_reference.json (what R printed).
suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
})
source_lines <- readLines("make_reference.R")
# reuse the small JSON writer of make_reference.R (num, tojson, vec)
eval(parse(text = source_lines[grep("^num <- ", source_lines):grep("^vec <- ", source_lines)]))

pbc <- survival::pbc[, c("id", "time", "status", "age", "sex", "stage", "bili", "edema")]
write.csv(pbc, "pbc.csv", row.names = FALSE, na = "")
# fit on the file as the CLI reads it (sex is then a character column, reference level "f")
pbc <- read.csv("pbc.csv")

out <- list()
out$meta <- list(R = R.version.string,
                 survival = as.character(packageVersion("survival")),
                 cmprsk = as.character(packageVersion("cmprsk")))

# ---- Fine-Gray, death (2) with transplant (1) competing; factor stage, reference 1 ----
cc <- pbc[complete.cases(pbc[, c("time", "status", "age", "sex", "stage", "bili")]), ]
x <- model.matrix(~ age + sex + factor(stage) + log(bili), data = cc)[, -1]
# crr stops at gtol = 1e-6 by default; a tight tolerance gives the converged values
fg <- crr(cc$time, cc$status, cov1 = x, failcode = 2, cencode = 0, gtol = 1e-12, maxiter = 100)
out$crr_pbc_death <- list(names = colnames(x), coef = vec(fg$coef),
                          se = vec(sqrt(diag(fg$var))), loglik = fg$loglik,
                          n = fg$n, dropped = vec(which(!complete.cases(pbc$stage))),
                          wald = as.numeric(t(fg$coef) %*% solve(fg$var) %*% fg$coef),
                          wald_stage = as.numeric(t(fg$coef[3:5]) %*% solve(fg$var[3:5, 3:5]) %*%
                                                  fg$coef[3:5]))
# cause 1 (transplant), covariates age, sex and log(bili), complete data
x1 <- model.matrix(~ age + sex + log(bili), data = pbc)[, -1]
fg1 <- crr(pbc$time, pbc$status, cov1 = x1, failcode = 1, cencode = 0, gtol = 1e-12,
           maxiter = 100)
out$crr_pbc_transplant <- list(names = colnames(x1), coef = vec(fg1$coef),
                               se = vec(sqrt(diag(fg1$var))), loglik = fg1$loglik)

# ---- Cox with a factor and missing covariates: R drops the 6 rows and says so ----
pbc$dead <- as.integer(pbc$status == 2)
cx <- coxph(Surv(time, dead) ~ age + factor(stage), data = pbc)
sc <- summary(cx)
out$coxph_pbc_stage <- list(names = names(coef(cx)), coef = vec(coef(cx)),
                            se = vec(sqrt(diag(vcov(cx)))), n = cx$n, nevent = cx$nevent,
                            dropped = vec(as.integer(cx$na.action)),
                            lr = vec(sc$logtest), score = vec(sc$sctest),
                            # summary() rounds the Wald statistic; compute it unrounded
                            wald = as.numeric(t(coef(cx)) %*% solve(vcov(cx)) %*% coef(cx)),
                            wald_stage = as.numeric(t(coef(cx)[2:4]) %*%
                                                    solve(vcov(cx)[2:4, 2:4]) %*% coef(cx)[2:4]),
                            zph = vec(cox.zph(cx)$table["GLOBAL", ]))

# ---- Cumulative incidence by sex, Gray's test ----
ci <- cuminc(pbc$time, pbc$status, group = pbc$sex, cencode = 0)
out$cuminc_pbc_sex <- list(stat = vec(ci$Tests[, "stat"]), p = vec(ci$Tests[, "pv"]),
                           df = vec(ci$Tests[, "df"]))

writeLines(tojson(out), "cli_reference.json")
cat("wrote cli_reference.json\n")
