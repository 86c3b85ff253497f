"""The numerical core: params, the objective, the plan (sampling), tolerance, threads."""
