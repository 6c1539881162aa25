# Reference values for infantall.outcomes.multistate, from R survival (3.5-x).
#   cd tests/outcomes/reference/multistate && Rscript make_multistate_reference.R
# Writes mgus2_ms.csv, myeloid_ms.csv (the data sets, tmerge-shaped) and multistate_reference.json.
# infant_synthetic.csv is written by make_infant_synthetic.py (infantall.cohort, seed 18) first.
library(survival)
library(jsonlite)

# --- data sets ---------------------------------------------------------------------------
etime <- with(mgus2, ifelse(pstat == 0, futime, ptime))
event <- with(mgus2, ifelse(pstat == 0, 2 * death, 1))
mg <- data.frame(id = mgus2$id, tstart = 0, tstop = etime,
                 state = factor(event, 0:2, labels = c("censored", "pcm", "death")),
                 age = mgus2$age, male = as.integer(mgus2$sex == "M"))
write.csv(mg, "mgus2_ms.csv", row.names = FALSE)

# myeloid as in the survival package's multi-state vignette (section "myeloid")
tdata <- myeloid
tied <- with(tdata, (!is.na(crtime) & !is.na(txtime) & crtime == txtime))
tdata$crtime[tied] <- tdata$crtime[tied] - 1
mdata <- tmerge(tdata[, 1:3], tdata, id = id, death = event(futime, death),
                sct = event(txtime), cr = event(crtime), relapse = event(rltime))
temp <- with(mdata, cr + 2 * sct + 4 * relapse + 8 * death)
mdata$state <- factor(temp, c(0, 1, 2, 4, 8), c("censored", "CR", "SCT", "relapse", "death"))
mdata$trtB <- as.integer(mdata$trt == "B")
mdata$male <- as.integer(mdata$sex == "m")
my <- mdata[, c("id", "tstart", "tstop", "state", "trtB", "male")]
write.csv(my, "myeloid_ms.csv", row.names = FALSE)

inf <- read.csv("infant_synthetic.csv", stringsAsFactors = FALSE)

# --- helpers -----------------------------------------------------------------------------
ms_factor <- function(state, states) factor(state, c("censored", states))

aj <- function(d, states, initial, tau, start = 0) {
  d$st <- ms_factor(d$state, states)
  f <- survfit(Surv(tstart, tstop, st) ~ 1, data = d, id = id, influence = TRUE,
               timefix = FALSE, start.time = start)
  # restricted mean time in state over (start, tau] and its IJ SE from influence.pstate
  keep <- f$time <= tau
  grid <- c(start, f$time[keep], tau)
  occ <- rbind(f$p0, f$pstate[keep, , drop = FALSE])
  dt <- diff(grid)
  rmean <- colSums(dt * occ)
  u <- f$influence.pstate[, c(1, which(keep) + 1), , drop = FALSE]
  ui <- apply(u, c(1, 3), function(x) sum(x * dt))
  list(states = f$states, time = f$time, pstate = f$pstate, std_err = f$std.err,
       lower = f$lower, upper = f$upper, cumhaz = f$cumhaz,
       cumhaz_names = colnames(f$cumhaz), tau = tau, rmean = rmean,
       rmean_se = sqrt(colSums(ui^2)))
}

# landmark P(h, t | s): patients in state `from` at time s (interval containing s)
current_state <- function(d, initial) {
  cur <- character(nrow(d))
  for (i in seq_len(nrow(d))) {
    first <- i == 1 || d$id[i] != d$id[i - 1]
    if (first) cur[i] <- initial
    else cur[i] <- if (d$state[i - 1] == "censored") cur[i - 1] else d$state[i - 1]
  }
  cur
}

landmark <- function(d, states, initial, from, s, tau) {
  d$state <- as.character(d$state)
  d <- d[order(d$id, d$tstart), ]
  cur <- character(nrow(d))
  for (i in seq_len(nrow(d))) {
    first <- i == 1 || d$id[i] != d$id[i - 1]
    if (first) cur[i] <- initial
    else cur[i] <- if (d$state[i - 1] == "censored") cur[i - 1] else d$state[i - 1]
  }
  d$cur <- cur
  ids <- unique(d$id[d$tstart <= s & d$tstop > s & d$cur == from])
  sub <- d[d$id %in% ids, ]
  sub$st <- ms_factor(sub$state, states)
  ist <- factor(sub$cur, c(initial, states))
  f <- survfit(Surv(tstart, tstop, st) ~ 1, data = sub, id = id, istate = ist,
               timefix = FALSE, start.time = s)
  list(from = from, s = s, n = length(ids), states = f$states, time = f$time,
       pstate = f$pstate, std_err = f$std.err, p0 = f$p0)
}

cox_ms <- function(d, states, initial, covs, newdata) {
  d$st <- ms_factor(d$state, states)
  fml <- as.formula(paste("Surv(tstart, tstop, st) ~", paste(covs, collapse = " + ")))
  # ties left at the default (efron): in survival 3.5-3 an explicit ties = "efron" in a
  # multi-state call gives the Breslow estimates, the default call gives Efron ones
  fit <- coxph(fml, data = d, id = id, timefix = FALSE)
  # predicted occupation for one covariate profile (as mstate's msfit/probtrans do)
  pred <- survfit(fit, newdata = newdata)
  # per transition: the single-transition model on the rows at risk in its from-state and
  # its predicted cumulative hazard at newdata (survfit.coxph, Efron ties: ctype = 2)
  d$state <- as.character(d$state)
  d$cur <- current_state(d, initial)
  per <- list()
  for (a in unique(d$cur)) for (b in states) {
    sub <- d[d$cur == a, ]
    if (sum(sub$state == b) < 10) next
    f1 <- coxph(as.formula(paste("Surv(tstart, tstop, state == b) ~",
                                  paste(covs, collapse = " + "))), data = sub)
    s1 <- survfit(f1, newdata = newdata)
    per[[length(per) + 1]] <- list(from = a, to = b, coef = unname(coef(f1)),
                                   time = s1$time, cumhaz = as.vector(s1$cumhaz))
  }
  list(coef = unname(coef(fit)), names = names(coef(fit)),
       naive_se = sqrt(diag(fit$naive.var)), robust_se = sqrt(diag(vcov(fit))),
       loglik = fit$loglik, n_event = fit$nevent, newdata = newdata,
       pred_states = pred$states, pred_time = pred$time, per_transition = per,
       pred_pstate = matrix(pred$pstate, nrow = length(pred$time)))
}

mg_states <- c("pcm", "death")
my_states <- c("CR", "SCT", "relapse", "death")
inf_states <- setdiff(unique(inf$state), "censored")
inf_order <- c("CR1", "HSCT in CR1", "relapse", "induction failure", "second malignancy",
               "early death", "death in CR1", "death")
inf_states <- inf_order[inf_order %in% inf_states]

out <- list(
  survival_version = as.character(packageVersion("survival")),
  mgus2 = list(aj = aj(mg, mg_states, "(s0)", 240),
               cox = cox_ms(mg, mg_states, "(s0)", c("age", "male"),
                            data.frame(age = 70, male = 1))),
  myeloid = list(aj = aj(my, my_states, "(s0)", 1000),
                 landmark_cr = landmark(my, my_states, "(s0)", "CR", 100.5, 1000),
                 cox = cox_ms(my, my_states, "(s0)", c("trtB", "male"),
                             data.frame(trtB = 1, male = 0))),
  infant = list(aj = aj(inf, inf_states, "diagnosis", 5),
                landmark_cr1 = landmark(inf, inf_states, "diagnosis", "CR1", 0.5, 5),
                landmark_hsct = landmark(inf, inf_states, "diagnosis", "HSCT in CR1", 0.5, 5),
                cox = cox_ms(inf, inf_states, "diagnosis", c("male", "age_lt6m"),
                             data.frame(male = 1, age_lt6m = 1)))
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null", matrix = "rowmajor"),
           "multistate_reference.json")
