"""decide(): thresholds, rule actions, caps, shadow rules and the reasons behind a verdict."""

from __future__ import annotations

import pytest

from bot.models import ModelScore, Reason, RuleHit, Score, Threshold, Verdict
from bot.policy import Policy, decide, summarize

N, F, H = Verdict.NONE, Verdict.FLAG, Verdict.HIDE

THRESHOLDS = {
    "toxicity": Threshold(flag=0.80, hide=0.97),
    "insult": Threshold(flag=0.60),
    "threat": Threshold(hide=0.95),  # hide only: never merely flagged
    "obscene": Threshold(),  # neither side: never acts
}


def model(**labels: float) -> ModelScore:
    return ModelScore("detoxify:original@test", labels)


def hit(
    rule_id: str = "r.one",
    action: Verdict = F,
    shadow: bool = False,
    start: int = 4,
    end: int = 9,
    matched: str = "idiot",
    reason: str = "",
) -> RuleHit:
    return RuleHit(rule_id, action, start, end, matched, reason=reason, shadow=shadow)


@pytest.mark.parametrize(
    ("labels", "verdict"),
    [
        pytest.param({"toxicity": 0.7999}, N, id="just-below-flag"),
        pytest.param({"toxicity": 0.80}, F, id="flag-is-inclusive"),
        pytest.param({"toxicity": 0.9699}, F, id="just-below-hide"),
        pytest.param({"toxicity": 0.97}, H, id="hide-is-inclusive"),
        pytest.param({"toxicity": 1.0}, H, id="top"),
        pytest.param({"insult": 0.6}, F, id="flag-only-label-flags"),
        pytest.param({"insult": 1.0}, F, id="flag-only-label-never-hides"),
        pytest.param({"threat": 0.94}, N, id="hide-only-label-below"),
        pytest.param({"threat": 0.95}, H, id="hide-only-label-hides"),
        pytest.param({"obscene": 1.0}, N, id="empty-threshold-never-acts"),
        pytest.param({"funny": 1.0}, N, id="label-without-threshold-ignored"),
        pytest.param({"insult": 0.7, "threat": 0.99}, H, id="strongest-label-wins"),
        pytest.param({}, N, id="no-labels"),
    ],
)
def test_model_thresholds(labels: dict[str, float], verdict: Verdict) -> None:
    """A label at or above its flag/hide threshold flags/hides; others do nothing."""
    decision = decide(Score(model=model(**labels)), Policy(THRESHOLDS))
    assert decision.verdict is verdict
    assert decision.would_verdict is verdict
    assert all(r.kind == "model" and r.verdict > N for r in decision.reasons)
    assert bool(decision.reasons) == (verdict is not N)


def test_labels_without_thresholds_give_no_reasons() -> None:
    """A label the policy has no threshold for adds no reason, however high."""
    decision = decide(Score(model=model(funny=0.99, toxicity=0.1)), Policy(THRESHOLDS))
    assert decision.reasons == ()


@pytest.mark.parametrize(
    ("hits", "max_rule_action", "verdict", "would"),
    [
        pytest.param((hit(action=F),), H, F, F, id="flag-rule"),
        pytest.param((hit(action=H),), H, H, H, id="hide-rule"),
        pytest.param((hit(action=N),), H, N, N, id="score-rule-no-action"),
        pytest.param((hit(action=H),), F, F, F, id="cap-hide-to-flag"),
        pytest.param((hit(action=F),), F, F, F, id="cap-leaves-flag"),
        pytest.param((hit(action=H, shadow=True),), H, N, H, id="shadow-hide"),
        pytest.param((hit(action=F, shadow=True),), H, N, F, id="shadow-flag"),
        pytest.param((hit("a", F), hit("b", H, shadow=True)), H, F, H, id="live-flag-shadow-hide"),
        pytest.param((hit("a", H), hit("b", F, shadow=True)), H, H, H, id="live-beats-shadow"),
        pytest.param((hit(action=H, shadow=True),), F, N, F, id="cap-applies-to-shadow"),
        pytest.param((), H, N, N, id="no-hits"),
    ],
)
def test_rule_actions(
    hits: tuple[RuleHit, ...], max_rule_action: Verdict, verdict: Verdict, would: Verdict
) -> None:
    """Rule hits act up to max_rule_action; shadow hits only move would_verdict."""
    policy = Policy(THRESHOLDS, max_rule_action=max_rule_action)
    decision = decide(Score(hits=hits), policy)
    assert (decision.verdict, decision.would_verdict) == (verdict, would)


def test_score_rules_give_a_reason_but_no_action() -> None:
    """A `score`-action rule is kept as a reason with verdict none."""
    decision = decide(Score(hits=(hit("ctx.politics", N),)), Policy(THRESHOLDS))
    assert decision.verdict is N
    [reason] = decision.reasons
    assert (reason.kind, reason.name, reason.verdict) == ("rule", "ctx.politics", N)


def test_max_rule_action_does_not_cap_the_model() -> None:
    """max_rule_action=flag caps rules only; a model hide still hides."""
    score = Score(hits=(hit(action=H),), model=model(toxicity=0.99))
    decision = decide(score, Policy(THRESHOLDS, max_rule_action=F))
    assert decision.verdict is H
    by_kind = {r.kind: r.verdict for r in decision.reasons}
    assert by_kind == {"rule": F, "model": H}


def test_rules_and_model_combine_to_the_strongest() -> None:
    """A flag rule and a hiding label give hide, with both reasons."""
    score = Score(hits=(hit("insult.direct", F),), model=model(toxicity=0.98, insult=0.65))
    decision = decide(score, Policy(THRESHOLDS))
    assert decision.verdict is H
    assert [(r.kind, r.name, r.verdict) for r in decision.reasons] == [
        ("rule", "insult.direct", F),
        ("model", "insult", F),
        ("model", "toxicity", H),
    ]


def test_reasons_explain_rule_span_and_label_threshold() -> None:
    """Rule reasons carry the id, rule reason and span; model reasons the value and threshold."""
    score = Score(
        hits=(hit("insult.direct", F, start=4, end=9, matched="IDIOT", reason="Personal insult"),),
        model=model(toxicity=0.83, threat=0.951),
    )
    decision = decide(score, Policy(THRESHOLDS))
    assert decision.reasons == (
        Reason("rule", "insult.direct", F, "Personal insult: matched 'IDIOT' at 4-9"),
        Reason("model", "threat", H, "0.951 >= hide 0.95"),
        Reason("model", "toxicity", F, "0.830 >= flag 0.8"),
    )


def test_shadow_reasons_are_marked() -> None:
    """A shadow hit's reason is kept and marked shadow."""
    decision = decide(Score(hits=(hit("new.rule", H, shadow=True),)), Policy(THRESHOLDS))
    [reason] = decision.reasons
    assert reason.shadow
    assert reason.verdict is H


@pytest.mark.parametrize("dry_run", [True, False])
def test_dry_run_is_carried_and_does_not_change_the_verdict(dry_run: bool) -> None:
    """dry_run travels on the decision; the verdict is what would be done."""
    decision = decide(Score(hits=(hit(action=H),)), Policy(THRESHOLDS, dry_run=dry_run))
    assert decision.dry_run is dry_run
    assert decision.verdict is H


def test_versions_and_thresholds_are_carried() -> None:
    """The decision records the model and rules versions and the thresholds it used."""
    score = Score(model=model(toxicity=0.1), rules_version="rules-123")
    decision = decide(score, Policy(THRESHOLDS))
    assert decision.model_version == "detoxify:original@test"
    assert decision.rules_version == "rules-123"
    assert decision.thresholds == THRESHOLDS


def test_rules_only_decision_has_empty_model_version() -> None:
    """Without a model score the model version is empty."""
    decision = decide(Score(rules_version="r1"), Policy(THRESHOLDS))
    assert (decision.model_version, decision.rules_version) == ("", "r1")


def test_decide_does_not_share_the_policy_thresholds() -> None:
    """Changing the policy's dict later does not rewrite an earlier decision."""
    thresholds = dict(THRESHOLDS)
    decision = decide(Score(), Policy(thresholds))
    thresholds["new"] = Threshold(flag=0.1)
    assert "new" not in decision.thresholds


# --- summarize ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "text"),
    [
        pytest.param(Score(), "no reason", id="nothing"),
        pytest.param(Score(hits=(hit("ctx", N),)), "no reason", id="score-rule-only"),
        pytest.param(Score(hits=(hit("new", H, shadow=True),)), "no reason", id="shadow-only"),
        pytest.param(
            Score(hits=(hit("insult.direct", F, reason="Insult"),)),
            "insult.direct: Insult: matched 'idiot' at 4-9",
            id="one-rule",
        ),
        pytest.param(
            Score(
                hits=(hit("insult.direct", F), hit("new", H, shadow=True)),
                model=model(toxicity=0.99),
            ),
            "insult.direct: matched 'idiot' at 4-9; toxicity: 0.990 >= hide 0.97",
            id="rule-and-model-without-shadow",
        ),
    ],
)
def test_summarize(score: Score, text: str) -> None:
    """summarize() lists the live reasons that drove the verdict, or says there were none."""
    assert summarize(decide(score, Policy(THRESHOLDS))) == text
