"""Borrowing from history: MAP priors, their mixture approximations, ESS, single-arm designs."""
