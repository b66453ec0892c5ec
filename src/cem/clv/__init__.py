"""Customer lifetime value: purchase summaries, the BG/NBD, Pareto/NBD and Gamma-Gamma models, per-customer scores."""
