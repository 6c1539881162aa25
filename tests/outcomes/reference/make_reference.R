# Reference values for infantall.outcomes, produced with R's survival and cmprsk packages.
#
# Run from this folder:  Rscript make_reference.R
# It writes the data sets it uses as CSV (so the Python tests never need R) and the values
# R printed as reference_values.json. Versions used are recorded in the JSON ("meta").
suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
})

# ---- a small JSON writer (jsonlite is not a Debian dependency of r-cran-survival) ----
num <- function(x) {
  ifelse(is.na(x), "null",
         ifelse(is.infinite(x), ifelse(x > 0, "\"Infinity\"", "\"-Infinity\""),
                sprintf("%.17g", x)))
}
tojson <- function(x) {
  if (is.list(x)) {
    nm <- names(x)
    if (is.null(nm)) {
      return(paste0("[", paste(vapply(x, tojson, ""), collapse = ","), "]"))
    }
    body <- vapply(seq_along(x), function(i) paste0("\"", nm[i], "\":", tojson(x[[i]])), "")
    return(paste0("{", paste(body, collapse = ","), "}"))
  }
  if (is.character(x)) {
    s <- paste0("\"", x, "\"")
    return(if (length(x) == 1) s else paste0("[", paste(s, collapse = ","), "]"))
  }
  v <- num(as.numeric(x))
  if (length(x) == 1) v else paste0("[", paste(v, collapse = ","), "]")
}
vec <- function(x) as.list(as.numeric(x))  # always a JSON array

out <- list()
out$meta <- list(R = R.version.string,
                 survival = as.character(packageVersion("survival")),
                 cmprsk = as.character(packageVersion("cmprsk")))

# ---- data sets written out as CSV ----
lung2 <- survival::lung[, c("time", "status", "age", "sex", "ph.ecog")]
names(lung2) <- c("time", "status", "age", "sex", "ph_ecog")
lung2$event <- as.integer(lung2$status == 2)
write.csv(lung2, "lung.csv", row.names = FALSE, na = "")

vet <- survival::veteran
write.csv(vet, "veteran.csv", row.names = FALSE)

m2 <- survival::mgus2
m2$etime <- ifelse(m2$pstat == 0, m2$futime, m2$ptime)
m2$event <- ifelse(m2$pstat == 1, 1L, 2L * m2$death)
m2$male <- as.integer(m2$sex == "M")
m2 <- m2[, c("id", "age", "male", "etime", "event")]
write.csv(m2, "mgus2.csv", row.names = FALSE)

hr <- survival::heart
write.csv(hr, "heart.csv", row.names = FALSE)
js <- survival::jasa[, c("futime", "fustat", "wait.time", "transplant")]
names(js) <- c("futime", "fustat", "wait_time", "transplant")
write.csv(js, "jasa.csv", row.names = FALSE, na = "")

# ---- Kaplan-Meier ----
km_block <- function(fit, times, tau) {
  res <- list()
  for (ct in c("log-log", "log", "plain")) {
    f <- update(fit, conf.type = ct)
    s <- summary(f, censored = TRUE)
    tab <- summary(f)$table
    st <- summary(f, times = times, extend = TRUE)
    res[[ct]] <- list(
      strata = if (is.null(s$strata)) "all" else as.character(s$strata),
      time = vec(s$time), n_risk = vec(s$n.risk), n_event = vec(s$n.event),
      surv = vec(s$surv), std_err = vec(s$std.err), lower = vec(s$lower), upper = vec(s$upper),
      median = vec(if (is.null(dim(tab))) tab["median"] else tab[, "median"]),
      median_lower = vec(if (is.null(dim(tab))) tab["0.95LCL"] else tab[, "0.95LCL"]),
      median_upper = vec(if (is.null(dim(tab))) tab["0.95UCL"] else tab[, "0.95UCL"]),
      at_strata = if (is.null(st$strata)) "all" else as.character(st$strata),
      at_time = vec(st$time), at_surv = vec(st$surv), at_std_err = vec(st$std.err),
      at_lower = vec(st$lower), at_upper = vec(st$upper), at_n_risk = vec(st$n.risk))
  }
  rm <- summary(fit, rmean = tau)$table
  res$rmean <- vec(if (is.null(dim(rm))) rm["rmean"] else rm[, "rmean"])
  res$rmean_se <- vec(if (is.null(dim(rm))) rm["se(rmean)"] else rm[, "se(rmean)"])
  res$tau <- tau
  res
}
out$km_lung_all <- km_block(survfit(Surv(time, status) ~ 1, data = lung), c(180, 365, 730), 730)
out$km_lung_sex <- km_block(survfit(Surv(time, status) ~ sex, data = lung), c(180, 365, 730), 730)
out$km_veteran_trt <- km_block(survfit(Surv(time, status) ~ trt, data = veteran), c(30, 90, 180), 365)

# ---- log-rank family ----
sd_out <- function(sd) {
  list(chisq = sd$chisq, df = length(sd$n) - 1, obs = vec(if (is.matrix(sd$obs)) rowSums(sd$obs) else sd$obs),
       exp = vec(if (is.matrix(sd$exp)) rowSums(sd$exp) else sd$exp),
       p = pchisq(sd$chisq, length(sd$n) - 1, lower.tail = FALSE))
}
out$logrank_lung_sex <- sd_out(survdiff(Surv(time, status) ~ sex, data = lung))
out$petopeto_lung_sex <- sd_out(survdiff(Surv(time, status) ~ sex, data = lung, rho = 1))
out$logrank_vet_cell <- sd_out(survdiff(Surv(time, status) ~ celltype, data = veteran))
out$petopeto_vet_cell <- sd_out(survdiff(Surv(time, status) ~ celltype, data = veteran, rho = 1))
st <- survdiff(Surv(time, status) ~ trt + strata(celltype), data = veteran)
out$strat_logrank_vet <- list(chisq = st$chisq, df = 1, p = pchisq(st$chisq, 1, lower.tail = FALSE))
# trend test across ordered groups, from survdiff's observed, expected and variance (scores 0,1,2)
lung_e <- subset(lung, !is.na(ph.ecog) & ph.ecog <= 2)
sdt <- survdiff(Surv(time, status) ~ ph.ecog, data = lung_e)
w <- c(0, 1, 2)
u <- sum(w * (sdt$obs - sdt$exp))
vv <- drop(t(w) %*% sdt$var %*% w)
out$trend_lung_ecog <- list(chisq = u^2 / vv, z = u / sqrt(vv), p = pchisq(u^2 / vv, 1, lower.tail = FALSE))
# pairwise log-rank with Holm's correction
lv <- levels(veteran$celltype)
pw <- list(); praw <- c()
for (i in 1:(length(lv) - 1)) for (j in (i + 1):length(lv)) {
  d <- subset(veteran, celltype %in% lv[c(i, j)])
  s <- survdiff(Surv(time, status) ~ celltype, data = droplevels(d))
  praw <- c(praw, pchisq(s$chisq, 1, lower.tail = FALSE))
  pw[[length(pw) + 1]] <- list(a = lv[i], b = lv[j], chisq = s$chisq)
}
padj <- p.adjust(praw, method = "holm")
for (k in seq_along(pw)) { pw[[k]]$p = praw[k]; pw[[k]]$p_holm = padj[k] }
out$pairwise_vet_cell <- pw

# ---- Cox ----
lungc <- na.omit(lung[, c("time", "status", "age", "sex", "ph.ecog")])
cox_out <- function(fit, zph = TRUE) {
  sm <- summary(fit)
  r <- list(coef = vec(coef(fit)), se = vec(sqrt(diag(vcov(fit)))), names = names(coef(fit)),
            loglik = vec(fit$loglik), score = fit$score, wald = unname(fit$wald.test),
            lrt = unname(sm$logtest["test"]), concordance = unname(fit$concordance["concordance"]),
            n = fit$n, nevent = fit$nevent)
  if (zph) {
    z <- cox.zph(fit)
    r$zph_chisq <- vec(z$table[, "chisq"]); r$zph_df <- vec(z$table[, "df"])
    r$zph_p <- vec(z$table[, "p"]); r$zph_rows <- rownames(z$table)
    zi <- cox.zph(fit, transform = "identity")
    r$zph_identity_chisq <- vec(zi$table[, "chisq"])
  }
  r
}
out$cox_lung_efron <- cox_out(coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lungc))
out$cox_lung_breslow <- cox_out(coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lungc,
                                      ties = "breslow"))
out$cox_lung_strat <- cox_out(coxph(Surv(time, status) ~ age + ph.ecog + strata(sex), data = lungc))
out$cox_vet_efron <- cox_out(coxph(Surv(time, status) ~ trt + karno + diagtime + age + prior,
                                   data = veteran))

# ---- competing risks ----
ci <- cuminc(m2$etime, m2$event, group = m2$male)
tp <- timepoints(ci, c(60, 120, 240, 360))
out$cuminc_mgus2 <- list(times = vec(c(60, 120, 240, 360)), names = rownames(tp$est),
                         est = lapply(seq_len(nrow(tp$est)), function(i) vec(tp$est[i, ])),
                         var = lapply(seq_len(nrow(tp$var)), function(i) vec(tp$var[i, ])),
                         gray_stat = vec(ci$Tests[, "stat"]), gray_p = vec(ci$Tests[, "pv"]),
                         gray_df = vec(ci$Tests[, "df"]))
ci1 <- cuminc(m2$etime, m2$event, group = m2$male, rho = 1)
out$gray_rho1_mgus2 <- list(stat = vec(ci1$Tests[, "stat"]), p = vec(ci1$Tests[, "pv"]))
# overall curves (no groups) at every time, for the full step function
ci0 <- cuminc(m2$etime, m2$event)
out$cuminc_mgus2_all <- list(
  time1 = vec(ci0[["1 1"]]$time), est1 = vec(ci0[["1 1"]]$est), var1 = vec(ci0[["1 1"]]$var),
  time2 = vec(ci0[["1 2"]]$time), est2 = vec(ci0[["1 2"]]$est), var2 = vec(ci0[["1 2"]]$var))
cr <- crr(m2$etime, m2$event, cov1 = cbind(age = m2$age, male = m2$male), failcode = 1,
          cencode = 0, gtol = 1e-12, maxiter = 100)
out$crr_mgus2 <- list(coef = vec(cr$coef), se = vec(sqrt(diag(cr$var))), loglik = cr$loglik,
                      names = c("age", "male"))
cr2 <- crr(m2$etime, m2$event, cov1 = cbind(age = m2$age, male = m2$male), failcode = 2,
           cencode = 0, gtol = 1e-12, maxiter = 100)
out$crr_mgus2_death <- list(coef = vec(cr2$coef), se = vec(sqrt(diag(cr2$var))), loglik = cr2$loglik)

# ---- time-dependent transplant (Stanford heart transplant data) ----
for (ties in c("efron", "breslow")) {
  f <- coxph(Surv(start, stop, event) ~ transplant, data = heart, ties = ties)
  out[[paste0("cox_td_heart_", ties)]] <- cox_out(f, zph = FALSE)
}
f <- coxph(Surv(start, stop, event) ~ transplant + age + surgery, data = heart)
out$cox_td_heart_multi <- cox_out(f, zph = TRUE)
# Mantel-Byar: log-rank O-E with hypergeometric variance, group membership updated over time
ev <- sort(unique(heart$stop[heart$event == 1]))
U <- 0; V <- 0; O <- 0; E <- 0
for (t in ev) {
  risk <- heart$start < t & heart$stop >= t
  dth <- risk & heart$stop == t & heart$event == 1
  n <- sum(risk); n1 <- sum(risk & heart$transplant == 1)
  d <- sum(dth); d1 <- sum(dth & heart$transplant == 1)
  O <- O + d1; E <- E + d * n1 / n
  if (n > 1) V <- V + d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1)
}
out$mantel_byar_heart <- list(observed = O, expected = E, variance = V,
                              chisq = (O - E)^2 / V, p = pchisq((O - E)^2 / V, 1, lower.tail = FALSE))
# Simon-Makuch: KM on counting-process data by current transplant status
sm <- survfit(Surv(start, stop, event) ~ transplant, data = heart)
ss <- summary(sm)
out$simon_makuch_heart <- list(strata = as.character(ss$strata), time = vec(ss$time),
                               n_risk = vec(ss$n.risk), n_event = vec(ss$n.event),
                               surv = vec(ss$surv), std_err = vec(ss$std.err))
# landmark at 30 days (jasa): at risk at day 30, group by transplant received by day 30
lm <- subset(jasa, futime > 30)
lm$tx30 <- as.integer(!is.na(lm$wait.time) & lm$wait.time <= 30)
lm$t <- lm$futime - 30
sdl <- survdiff(Surv(t, fustat) ~ tx30, data = lm)
fl <- survfit(Surv(t, fustat) ~ tx30, data = lm)
sl <- summary(fl, times = c(100, 365), extend = TRUE)
out$landmark_jasa_30 <- list(n = nrow(lm), n_tx = sum(lm$tx30), chisq = sdl$chisq,
                             p = pchisq(sdl$chisq, 1, lower.tail = FALSE),
                             at_strata = as.character(sl$strata), at_time = vec(sl$time),
                             at_surv = vec(sl$surv), at_std_err = vec(sl$std.err))

writeLines(tojson(out), "reference_values.json")
cat("wrote reference_values.json\n")
