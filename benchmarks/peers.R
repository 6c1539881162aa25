# One R measurement for benchmarks/peers.py (run there; not by hand).
# Usage: Rscript benchmarks/peers.R TASK DIR N
# Loads the packages and reads the raw float64 columns BEFORE the timer; times the
# computation only with proc.time(); peak memory as in peers.py: the resident high-water mark
# is reset through /proc/self/clear_refs before the timer and read after it, minus the
# resident size before the timer. Prints one JSON line.
suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
})
args <- commandArgs(trailingOnly = TRUE)
task <- args[1]
dir <- args[2]
n <- as.integer(args[3])
col <- function(name) readBin(file.path(dir, paste0(name, ".f64")), "double", n = n, size = 8)
d <- data.frame(
  time = col("time"), event = col("event"), cause = col("cause"), group = col("group"),
  x0 = col("x0"), x1 = col("x1"), x2 = col("x2"), x3 = col("x3"), x4 = col("x4")
)
status_kb <- function(key) {
  line <- grep(paste0("^", key, ":"), readLines("/proc/self/status"), value = TRUE)
  as.numeric(strsplit(trimws(sub(paste0(key, ":"), "", line)), " +")[[1]][1])
}
invisible(gc())
rss0 <- status_kb("VmRSS")
cat("5", file = "/proc/self/clear_refs")
t0 <- proc.time()[["elapsed"]]
res <- switch(task,
  km = list(
    survfit(Surv(time, event) ~ group, data = d),
    survdiff(Surv(time, event) ~ group, data = d)
  ),
  cif = cuminc(d$time, d$cause, d$group),
  cox = coxph(Surv(time, event) ~ x0 + x1 + x2 + x3 + x4, data = d, ties = "efron"),
  stop("unknown task ", task)
)
secs <- proc.time()[["elapsed"]] - t0
peak <- status_kb("VmHWM")
cat(sprintf('{"seconds": %.6f, "peak_mb": %.3f}\n', secs, max(peak - rss0, 0) / 1024))
