"""The pool report: what needs action in a region (pool sufficiency,
waiting against the scorecard, inter-agency fees against budgets) and
whether the rankings and a proposal treat every group of children fairly.

Computations (:mod:`~matcher.reports.pool`, :mod:`~matcher.reports.waiting`,
:mod:`~matcher.reports.fees`, :mod:`~matcher.reports.fairness`) are plain
functions returning frozen data; :mod:`~matcher.reports.render` turns that
data into one self-contained HTML file from the Jinja2 templates in
``templates/``.
"""
