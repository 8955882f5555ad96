"""`modbot eval`: measure rules, model and policy on a labelled CSV.

- `data`: stream rows from CSV files, sort each into positive/negative/skipped, split by hash;
- `metrics`: confusion counts, per-rule, per-label and per-group breakdowns, threshold sweep;
- `runner`: score rows in chunks (rules per row, the model per chunk) and feed the metrics;
- `predictions`: write every scored row back with the decision, hits, spans and scores;
- `report`: human tables from the result document that `--json` prints;
- `presets`: the labelled sets in ../shared/data.

`bot.evaluate` is the command module that wires these to argparse. Nothing here imports torch
at module level.
"""
