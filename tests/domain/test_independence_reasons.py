"""A disqualification's stated reason names each kind of reused module once, with a count."""

from gauntlet.domain.independence import IndependencePolicy, ModuleFinding, Origin, rule_on


def test_reused_layers_of_one_kind_read_as_one_reason_with_a_count():
    origin = Origin(country="US", organisation="Tidewater Labs")
    findings = (
        ModuleFinding("embedding", "derived", "tidewater", origin, 1e-80),
        *(ModuleFinding("transformer_layer", "derived", "tidewater", origin, 1e-80) for _ in range(3)),
    )
    ruling = rule_on(IndependencePolicy(), "derived", findings, organisation="Saebyeok Cloud")
    assert ruling.disqualified
    assert ruling.detail.count("transformer_layer") == 1 and "(x3)" in ruling.detail
    assert ruling.detail.count("embedding") == 1 and "(x1)" not in ruling.detail
