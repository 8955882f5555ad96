"""The moderators' review page and its command line: queue, verdicts, audit trail, stats,
and `modbot replay` (a backtest of candidate rules against recorded verdicts).

Nothing here is imported by the pipeline; `bot.review.web.start_review_server` is the one
entry point the service calls.
"""
