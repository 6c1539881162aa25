"""Every figure of infantall, one function per concept, drawn in one style
(:mod:`infantall.reports.figures.style`)."""
