"""The simulated parties: the test PKI, signature checks by devices, scenarios and replays."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ecos_migration.domain.device import Credential
from ecos_migration.errors import ConfigurationError
from ecos_migration.providers.interfaces import Instruction
from ecos_migration.providers.simulated.parties import (
    SimulatedParties,
    device_accepts,
    draw,
    replacement_command,
    sign_command,
)
from ecos_migration.providers.simulated.pki import (
    ECOS_PARTY_ID,
    TCOS_PARTY_ID,
    Party,
    generate_pki,
)
from ecos_migration.providers.simulated.scenario import Scenario, parse_scenario
from ecos_migration.providers.simulated.state import SimulatorState

MODEL = "ESME/AB01/010A030B/0002012F"


def test_pki_cos_certificates() -> None:
    pki = generate_pki()
    for party, eui64 in ((pki.tcos, TCOS_PARTY_ID), (pki.ecos, ECOS_PARTY_ID)):
        subject = party.certificate.subject
        assert subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "05"
        unique = subject.get_attributes_for_oid(NameOID.X500_UNIQUE_IDENTIFIER)[0].value
        assert unique == bytes.fromhex(eui64)
        usage = party.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        assert usage.digital_signature
        assert not usage.key_cert_sign
        assert isinstance(party.certificate.public_key(), ec.EllipticCurvePublicKey)
        assert party.certificate.issuer == pki.issuing.certificate.subject
    assert pki.issuing.certificate.issuer == pki.root.certificate.subject


def test_pki_chain_verifies() -> None:
    pki = generate_pki()
    pki.tcos.certificate.verify_directly_issued_by(pki.issuing.certificate)
    pki.issuing.certificate.verify_directly_issued_by(pki.root.certificate)


def test_device_accepts_trusted_signer() -> None:
    pki = generate_pki()
    command = replacement_command(Instruction("A-1", "00DB123456780001", MODEL), b"cert")
    signature = sign_command(pki.tcos, command)
    assert device_accepts(pki.tcos.public_key_der(), command, signature)


def test_device_rejects_untrusted_signer() -> None:
    pki = generate_pki()
    command = replacement_command(Instruction("A-1", "00DB123456780001", MODEL), b"cert")
    # Signed by the ECoS key, but the device still trusts the TCoS certificate.
    signature = sign_command(pki.ecos, command)
    assert not device_accepts(pki.tcos.public_key_der(), command, signature)


def test_device_rejects_changed_command() -> None:
    pki = generate_pki()
    command = replacement_command(Instruction("A-1", "00DB123456780001", MODEL), b"cert")
    signature = sign_command(pki.tcos, command)
    other = replacement_command(Instruction("A-1", "00DB123456780002", MODEL), b"cert")
    assert not device_accepts(pki.tcos.public_key_der(), other, signature)


def test_public_tcos_test_key_signs(smartdcc: Path) -> None:
    # DCC's public test key of the TCoS Party (90B3D51F30000004) signs commands that a
    # simulated device trusting its certificate accepts.
    keystore = json.loads((smartdcc / "keystore" / "keystore.json").read_text())
    entries = keystore["90b3d51f30000004"]["digitalSignature"]
    entry = next(iter(entries.values()))
    certificate = x509.load_pem_x509_certificate(entry["certificate"].encode())
    key = serialization.load_pem_private_key(entry["privateKey"].encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    party = Party("tcos", certificate, key)
    command = replacement_command(Instruction("A-1", "00DB123456780001", MODEL), b"cert")
    assert device_accepts(party.public_key_der(), command, sign_command(party, command))
    assert not device_accepts(
        generate_pki().tcos.public_key_der(), command, sign_command(party, command)
    )


def test_draw_repeatable() -> None:
    first = draw(7, "A-1", "REPLACE", "fault")
    assert first == draw(7, "A-1", "REPLACE", "fault")
    assert 0.0 <= first < 1.0
    assert first != draw(8, "A-1", "REPLACE", "fault")


def test_scenario_overrides_default() -> None:
    scenario = parse_scenario(
        f"""
[default]
comms_failure = 0.1
[[model]]
model = "{MODEL}"
command_rejected = 0.5
""",
        "test.toml",
    )
    profile = scenario.profile(MODEL)
    assert profile.comms_failure == 0.1
    assert profile.command_rejected == 0.5
    assert scenario.profile("GSME/AB01/X/1").command_rejected == 0.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[default]\ncomms_failure = 1.5", "comms_failure"),
        ("[default]\nunknown_fault = 0.1", "unknown_fault"),
        ('[[model]]\nmodel = "NOPE"', "invalid Device Model"),
        ("[default]\ncomms_failure = 0.6\nlost_answer = 0.6", "exclusive"),
        ("[default\n", "invalid TOML"),
        (f'[[model]]\nmodel = "{MODEL}"\n[[model]]\nmodel = "{MODEL}"', "listed twice"),
    ],
)
def test_scenario_invalid(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_scenario(text, "bad.toml")


def parties(tmp_path: Path, scenario: Scenario) -> SimulatedParties:
    state = SimulatorState(tmp_path / "sim.sqlite")
    simulated = SimulatedParties(state, scenario, seed=3)
    state.add_devices({f"00DB1234567800{n:02X}": simulated.tcos_anchor for n in range(40)})
    return simulated


def batch() -> list[Instruction]:
    return [
        Instruction(f"00DB1234567800{n:02X}-1", f"00DB1234567800{n:02X}", MODEL) for n in range(40)
    ]


def test_replace_moves_anchor(tmp_path: Path) -> None:
    simulated = parties(tmp_path, Scenario())
    results = simulated.replace(batch())
    assert all(result.ok for result in results)
    read = simulated.read([i.device_id for i in batch()])
    assert set(read.values()) == {Credential.ECOS}


def test_replace_replay_same_result(tmp_path: Path) -> None:
    scenario = parse_scenario("[default]\nerror_response = 0.3\nlost_answer = 0.3", "s")
    simulated = parties(tmp_path, scenario)
    first = simulated.replace(batch())
    anchors = simulated.state.all_anchors()
    replay = simulated.replace(list(reversed(batch())))
    assert {r.attempt_id: r.error_code for r in replay} == {
        r.attempt_id: r.error_code for r in first
    }
    assert simulated.state.all_anchors() == anchors


def test_replace_after_migration_rejected(tmp_path: Path) -> None:
    simulated = parties(tmp_path, Scenario())
    simulated.replace(batch())
    # A second attempt signed by the TCoS key reaches devices that now trust ECoS.
    second = [Instruction(f"{i.device_id}-2", i.device_id, MODEL) for i in batch()]
    results = simulated.replace(second)
    assert {r.error_code for r in results} == {"COMMAND_REJECTED"}


def test_state_survives_reopen(tmp_path: Path) -> None:
    simulated = parties(tmp_path, Scenario())
    simulated.replace(batch()[:5])
    tcos = simulated.tcos_anchor
    simulated.state.close()
    reopened = SimulatorState(tmp_path / "sim.sqlite")
    assert reopened.pki.tcos.public_key_der() == tcos
    again = SimulatedParties(reopened, Scenario(), seed=3)
    assert all(r.ok for r in again.replace(batch()[:5]))
    assert again.read([batch()[0].device_id])[batch()[0].device_id] is Credential.ECOS


def reference_draw(seed: int, attempt_id: str, step: str, fault: str) -> float:
    # The draw as first defined: a fresh keyed BLAKE2b hash of the text for every draw.
    digest = hashlib.blake2b(
        f"{attempt_id}|{step}|{fault}".encode(),
        digest_size=8,
        key=seed.to_bytes(8, "big", signed=False),
    ).digest()
    return (int.from_bytes(digest, "big") >> 11) / float(1 << 53)


@pytest.mark.parametrize(
    ("seed", "attempt_id", "step", "fault", "expected"),
    [
        (7, "A-1", "REPLACE", "fault", 0.9518415532709957),
        (0, "00DB000000000001-1", "INSTRUCT", "fault", 0.48960817666983814),
        (2**64 - 1, "00DB00000000ABCD-3", "REPLACE", "reached", 0.828928152897686),
        (1, "é-1", "RECONCILE", "fault", 0.4843096201498518),
    ],
)
def test_draw_known_values(
    seed: int, attempt_id: str, step: str, fault: str, expected: float
) -> None:
    assert draw(seed, attempt_id, step, fault) == expected
    assert reference_draw(seed, attempt_id, step, fault) == expected


@pytest.mark.parametrize("seed", [0, 3, 2**63 + 5, 2**64 - 1])
def test_parties_draw_equals_formula(tmp_path: Path, seed: int) -> None:
    state = SimulatorState(tmp_path / "sim.sqlite")
    simulated = SimulatedParties(state, Scenario(), seed=seed)
    attempt_ids = [f"00DB{n:012X}-{n % 4 + 1}" for n in range(300)] + ["", "é-1", "a|b-2"]
    for attempt_id in attempt_ids:
        for step, fault in (
            ("INSTRUCT", "fault"),
            ("REVIEW", "fault"),
            ("REPLACE", "fault"),
            ("REPLACE", "reached"),
            ("RECONCILE", "fault"),
        ):
            expected = reference_draw(seed, attempt_id, step, fault)
            assert simulated._draw(attempt_id, f"|{step}|{fault}") == expected
            assert draw(seed, attempt_id, step, fault) == expected
    state.close()


OTHER_MODEL = "GSME/AB01/010A030B/0002012F"
QUIET_MODEL = "ESME/CD02/01/01"
ALL_FAULTS = f"""
[default]
instruction_rejected = 0.1
review_cos_in_flight = 0.1
review_refused = 0.15
comms_failure = 0.1
command_rejected = 0.1
error_response = 0.1
lost_answer = 0.2
reconciliation_mismatch = 0.1
[[model]]
model = "{OTHER_MODEL}"
instruction_rejected = 0.3
lost_answer = 0.4
[[model]]
model = "{QUIET_MODEL}"
instruction_rejected = 0.0
review_cos_in_flight = 0.0
review_refused = 0.0
comms_failure = 0.0
command_rejected = 0.0
error_response = 0.0
lost_answer = 0.0
reconciliation_mismatch = 0.0
"""


def reference_outcomes(
    scenario: Scenario, seed: int, instructions: list[Instruction], known_devices: set[str]
) -> dict[str, list[str | None]]:
    # The outcomes as first defined, drawn with the reference formula for every attempt and
    # compared with bounds summed in the order the faults are listed.
    outcomes: dict[str, list[str | None]] = {}
    for instruction in instructions:
        profile = scenario.profile(instruction.model)
        attempt_id = instruction.attempt_id
        codes: list[str | None] = []

        value = reference_draw(seed, attempt_id, "INSTRUCT", "fault")
        codes.append("INSTRUCTION_REJECTED" if value < profile.instruction_rejected else None)

        value = reference_draw(seed, attempt_id, "REVIEW", "fault")
        if value < profile.review_cos_in_flight:
            codes.append("REVIEW_COS_IN_FLIGHT")
        elif value < profile.review_cos_in_flight + profile.review_refused:
            codes.append("REVIEW_REFUSED")
        else:
            codes.append(None)

        value = reference_draw(seed, attempt_id, "REPLACE", "fault")
        rejected = profile.comms_failure + profile.command_rejected
        trusts_ecos = False
        if instruction.device_id not in known_devices or value < profile.comms_failure:
            codes.append("COMMS_FAILURE")
        elif value < rejected:
            codes.append("COMMAND_REJECTED")
        elif value < rejected + profile.error_response:
            codes.append("ERROR_RESPONSE")
        elif value < rejected + profile.error_response + profile.lost_answer:
            codes.append("NO_RESPONSE")
            trusts_ecos = reference_draw(seed, attempt_id, "REPLACE", "reached") < 0.5
        else:
            codes.append(None)
            trusts_ecos = True

        value = reference_draw(seed, attempt_id, "RECONCILE", "fault")
        mismatch = not trusts_ecos or value < profile.reconciliation_mismatch
        codes.append("RECONCILIATION_MISMATCH" if mismatch else None)
        outcomes[attempt_id] = codes
    return outcomes


def test_outcomes_equal_reference(tmp_path: Path) -> None:
    scenario = parse_scenario(ALL_FAULTS, "all-faults.toml")
    state = SimulatorState(tmp_path / "sim.sqlite")
    simulated = SimulatedParties(state, scenario, seed=11)
    models = (MODEL, OTHER_MODEL, QUIET_MODEL)
    instructions = [
        Instruction(f"00DB{n:012X}-1", f"00DB{n:012X}", models[n % 3]) for n in range(600)
    ]
    # Every tenth device is not simulated, so its replacement cannot reach it.
    known = {i.device_id for n, i in enumerate(instructions) if n % 10 != 0}
    state.add_devices(dict.fromkeys(sorted(known), simulated.tcos_anchor))

    actual: dict[str, list[str | None]] = {i.attempt_id: [] for i in instructions}
    for start in range(0, len(instructions), 250):
        chunk = instructions[start : start + 250]
        for call in (simulated.instruct, simulated.review, simulated.replace, simulated.reconcile):
            for result in call(chunk):
                actual[result.attempt_id].append(result.error_code)

    expected = reference_outcomes(scenario, 11, instructions, known)
    assert actual == expected
    # The scenario gives every outcome, so the comparison covers every branch.
    codes = {code for codes in expected.values() for code in codes}
    assert codes == {
        None,
        "INSTRUCTION_REJECTED",
        "REVIEW_COS_IN_FLIGHT",
        "REVIEW_REFUSED",
        "COMMS_FAILURE",
        "COMMAND_REJECTED",
        "ERROR_RESPONSE",
        "NO_RESPONSE",
        "RECONCILIATION_MISMATCH",
    }
    state.close()
