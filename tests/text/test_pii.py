"""PII redaction on real-looking English and Portuguese texts, including look-alikes that must stay readable."""

from __future__ import annotations

import pytest

from cem.text.pii import find_pii, iban_valid, luhn_valid, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Please email me at john.smith+orders@gmail.com about the refund.",
            "Please email me at [EMAIL] about the refund.",
        ),
        (
            "Pode me responder no maria.souza@uol.com.br? Obrigada!",
            "Pode me responder no [EMAIL]? Obrigada!",
        ),
        ("Call me on (555) 123-4567 or 555-987-6543 tomorrow.", "Call me on [PHONE] or [PHONE] tomorrow."),
        ("Me liga no (11) 98765-4321 ou +55 21 3456-7890.", "Me liga no [PHONE] ou [PHONE]."),
        ("Meu celular é 98765-4321, falar com Ana.", "Meu celular é [PHONE], falar com [NAME]."),
        ("UK office: +44 20 7946 0958.", "UK office: [PHONE]."),
        ("Toll free 1-800-555-0199, ask for Sam", "Toll free [PHONE], ask for [NAME]"),
        ("I was charged twice on 4111 1111 1111 1111!", "I was charged twice on [CARD]!"),
        ("cartão 5555-5555-5555-4444 foi cobrado duas vezes", "cartão [CARD] foi cobrado duas vezes"),
        ("Refund to DE89 3704 0044 0532 0130 00 please.", "Refund to [IBAN] please."),
        ("Meu IBAN: PT50000201231234567890154 (Millennium).", "Meu IBAN: [IBAN] (Millennium)."),
        ("Login failed from 192.168.10.254 again", "Login failed from [IP] again"),
        ("Blocked IPv6 2001:db8:85a3::8a2e:370:7334 today", "Blocked IPv6 [IP] today"),
    ],
)
def test_masks_personal_data(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Order #1234567890123 arrived on 2024-01-15, three days late.",
        "Pedido 00012345678 entregue em 15/01/2024 às 10:30:00.",
        "Order 4111111111111112 is still missing",  # card-like but fails Luhn
        "Tracking code BR123456789BR, invoice 2023-000123.",
        "Paguei R$ 1.299,90 em 10x de R$ 129,99 no dia 03.02.2018.",
        "Upgraded to version 10.2.3 on 12.05.2023; score 4.5/5.",
        "DE89 3704 0044 0532 0130 01 is not a valid IBAN",  # checksum off by one
        "Call 555-1234 for the desk",  # seven digits: too short to be a full number
        "Produto código 7891234567895 (EAN) veio errado",  # EAN-13 barcode, no card issuer prefix
        "Meeting at 10:30:45, room 300.1.2.999",
        "Review created 2018-03-08 00:00:00, answered 2018-03-08 12:27:34",
        "CEP 01310-100, São Paulo; rastreio OJ123456789BR",
        "Order 12345-678-9012 and protocolo nº 2024 1234 5678 are still open",
        "Updated the app to version 1.2.3.4 and it crashes",
    ],
)
def test_leaves_look_alikes_untouched(text: str) -> None:
    assert find_pii(text) == []
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I spoke with John Smith and he hung up on me.", "I spoke with [NAME] and he hung up on me."),
        ("My name is Sarah O'Connor, booking 4471.", "My name is [NAME], booking 4471."),
        ("Mr. Brown at the gate was great", "Mr. [NAME] at the gate was great"),
        ("the agent Maria Was rude", "the agent [NAME] Was rude"),  # the name ends before a capitalised verb
        ("Falei com a atendente Juliana Ferreira ontem.", "Falei com a atendente [NAME] ontem."),
        ("Meu nome é Ana de Souza e quero meu dinheiro", "Meu nome é [NAME] e quero meu dinheiro"),
        ("Fui atendida por Carlos, muito educado.", "Fui atendida por [NAME], muito educado."),
        ("Sr. João Pedro da Silva não recebeu", "Sr. [NAME] não recebeu"),
    ],
)
def test_masks_names_a_text_introduces(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert redact(text, kinds={"email", "phone"}) == text  # names only when the kind is on


@pytest.mark.parametrize(
    "text",
    [
        "I spoke with Customer Service twice and nobody helped",  # a department, not a person
        "The agent was rude and the flight was late",  # no name after the cue
        "Flew with Delta to Boston, great crew",  # capitalised words without a person cue
        "meu nome é joão",  # written in lower case: not found (a rule, not a model)
        "Thanks to Maria for her help",  # no cue: a known limit of the rule
    ],
)
def test_leaves_names_without_a_cue(text: str) -> None:
    assert [m for m in find_pii(text) if m.kind == "name"] == []


def test_kinds_can_be_selected() -> None:
    text = "mail ana@example.com or call (11) 98765-4321"
    assert redact(text, kinds={"email"}) == "mail [EMAIL] or call (11) 98765-4321"
    assert [m.kind for m in find_pii(text)] == ["email", "phone"]


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="Unknown PII kind"):
        redact("x", kinds={"email", "ssn"})


def test_custom_mask_template() -> None:
    assert redact("ip 10.0.0.1", template="<{kind}>") == "ip <IP>"


def test_checksums() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert iban_valid("GB82WEST12345698765432")
    assert not iban_valid("GB82WEST12345698765433")
    assert not iban_valid("GB82WEST1234569876543")  # wrong length for GB
