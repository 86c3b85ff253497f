"""The user's numpy traced as written: rebinding, gaps, recording, refusal, source."""
