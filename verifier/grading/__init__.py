"""The instructor's grader: a class's backprop submissions checked in isolation (``verifier grade``).

* :mod:`~verifier.grading.grader` — :func:`grade`: the reference, the cases, the class, the grades;
* :mod:`~verifier.grading.submissions` — finding submissions, notebooks as scripts, their lines;
* :mod:`~verifier.grading.runner` — one submission's own process, seen from the grader;
* :mod:`~verifier.grading.worker` — that process: it loads the submission and answers calls;
* :mod:`~verifier.grading.protocol` — what passes between them: JSON and raw array bytes;
* :mod:`~verifier.grading.scoring` — points per tensor, feedback in words, the class summary.

This module imports nothing: the worker starts as ``python -m verifier.grading.worker``
and must not load the grader (nor numpy before its memory cap is set).
"""
