"""Supervision across the bureau tree: statistics, early warning, supervision orders (督办) and satisfaction.

``stats`` and ``warnings`` read (SQL aggregates in the reader's tenant scope), ``operations`` write, ``export``
writes XLSX and CSV, ``views`` is the ``supervision`` blueprint at ``/staff/supervision``. Everything but
``views`` and ``forms`` is free of Flask.
"""
