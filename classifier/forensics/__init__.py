"""Forensics: time windows and filters, evidence extraction, multi-capture views.

- :mod:`.filters`: ``FlowFilter`` and ``apply_filter`` (--since/--until/--host/--path/--where);
- :mod:`.query`: the safe ``--where`` subset of pandas query syntax (no eval);
- :mod:`.extract`: ``extract`` — selected flows' original packets → annotated pcapng;
- :mod:`.pcapng`: the pcapng writer used by extract;
- :mod:`.proxy`: ``proxy_chains`` — client leg ↔ apiserver proxy leg.

The multi-point merge lives with flow assembly: :mod:`classifier.flows.merge`.
"""
