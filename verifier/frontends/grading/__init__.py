"""The instructor's grader: a class's backprop submissions checked in isolation (``verifier grade``).

* :mod:`~verifier.frontends.grading.grader` — :func:`grade`: the class graded, case by case, in workers;
* :mod:`~verifier.frontends.grading.plan` — what a run is: the reference checked, the cases, the options;
* :mod:`~verifier.frontends.grading.explaining` — the first wrong line, worked out in the worker;
* :mod:`~verifier.frontends.grading.submissions` — finding submissions, notebooks as scripts, their lines;
* :mod:`~verifier.frontends.grading.runner` — one submission's own process, seen from the grader;
* :mod:`~verifier.frontends.grading.worker` — that process: it loads the submission and answers calls;
* :mod:`~verifier.frontends.grading.protocol` — what passes between them: JSON and raw array bytes;
* :mod:`~verifier.frontends.grading.scoring` — points per tensor, feedback in words, the class summary.

This module imports nothing: the worker starts as ``python -m verifier.frontends.grading.worker``
and must not load the grader (nor numpy before its memory cap is set).
"""
