"""The emails of the closed loop: replies to customers, alerts, and notices to case owners and leads.

Texts are built here (plain text, and HTML with every stored string escaped: case titles, notes and replies
come from feedback and from people, and are treated as hostile)."""

from __future__ import annotations

import html

from cem.distribution.mailer import OutgoingEmail

NOTICES = {
    "assigned": "Case #{id} was assigned to you",
    "sla_warning": "Case #{id} is about to breach its SLA",
    "escalated": "Case #{id} breached its SLA and was escalated",
}


def _html(text: str) -> str:
    return "<p>" + html.escape(text).replace("\n", "<br>") + "</p>"


def reply(to: str, subject: str, body: str, *, case_id: int) -> OutgoingEmail:
    return OutgoingEmail(to=to, subject=subject, text=body, html=_html(body), headers={"X-CEM-Case": str(case_id)})


def notice(to: str, kind: str, *, case_id: int, title: str, link: str) -> OutgoingEmail:
    subject = NOTICES[kind].format(id=case_id)
    text = f"{subject}.\n\n{title}\n\nOpen it: {link}\n"
    return OutgoingEmail(to=to, subject=subject, text=text, html=_html(text))


def alert(to: str, *, rule_name: str, reasons: list[str], link: str) -> OutgoingEmail:
    subject = f"Alert: {rule_name}"
    text = f"The alert rule {rule_name!r} fired.\n\nWhy: {'; '.join(reasons)}\n\n{link}\n"
    return OutgoingEmail(to=to, subject=subject[:200], text=text, html=_html(text))
