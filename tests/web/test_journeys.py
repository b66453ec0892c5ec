from __future__ import annotations

import html
import re
from collections.abc import Callable

from cem.journeys import service as journey_service
from tests.conftest import Workspace
from tests.web.helpers import WebUser, seed_journey


def _read(workspace: Workspace, journey_id: int, include_archived: bool = True):  # type: ignore[no-untyped-def]
    with workspace.db.unit_of_work(readonly=True) as session:
        return journey_service.read_journey(
            session, workspace_id=workspace.id, journey_id=journey_id, include_archived=include_archived
        )


def _stage_names(page: str) -> list[str]:
    return re.findall(r'<h2 data-testid="stage-name">(.*?)</h2>', page)


def test_viewer_sees_map_but_cannot_edit(web: Callable[[str], WebUser], workspace: Workspace) -> None:
    ids = seed_journey(workspace.db, workspace.principal())
    viewer = web("viewer")
    page = viewer.get(f"/journeys/{ids['journey']}")
    assert page.status_code == 200
    assert _stage_names(page.text) == ["Browse", "Support"]
    assert 'action="/journeys/' not in page.text  # no edit forms rendered for a viewer
    assert viewer.get("/journeys").status_code == 200
    attempts = [
        ("/journeys", {"key": "x", "name": "X"}),
        (f"/journeys/{ids['journey']}/edit", {"name": "Hacked"}),
        (f"/journeys/{ids['journey']}/stages", {"key": "s", "name": "S"}),
        (f"/journeys/{ids['journey']}/stages/order", {"ids": f"{ids['support']},{ids['browse']}"}),
        (f"/stages/{ids['browse']}/archive", {"archive": "1"}),
        (f"/touchpoints/{ids['site']}/edit", {"name": "Hacked", "channel": "web"}),
    ]
    for url, data in attempts:
        r = viewer.post(url, data)
        assert r.status_code == 403, url
        assert "cannot open this page" in r.text
    read = _read(workspace, ids["journey"])
    assert read.name == "Purchase" and [s.name for s in read.stages] == ["Browse", "Support"]
    assert read.stages[0].archived_at is None and read.stages[0].touchpoints[0].name == "Website"


def test_analyst_builds_and_edits_a_journey(web: Callable[[str], WebUser], workspace: Workspace) -> None:
    analyst = web("analyst")
    r = analyst.post("/journeys", {"key": "onboard", "name": "Onboarding", "description": "First week"})
    assert r.status_code == 303
    url = r.headers["location"]
    jid = int(url.rsplit("/", 1)[1])
    for key, name in (("sign", "Sign up"), ("use", "First use"), ("pay", "Pay")):
        assert analyst.post(f"{url}/stages", {"key": key, "name": name}).headers["location"] == url
    page = analyst.get(url).text
    assert _stage_names(page) == ["Sign up", "First use", "Pay"]
    stage_ids = [s.id for s in _read(workspace, jid).stages]
    assert (
        analyst.post(
            f"/stages/{stage_ids[0]}/touchpoints", {"key": "form", "name": "Form", "channel": "web"}
        ).status_code
        == 303
    )
    assert (
        analyst.post(
            f"/stages/{stage_ids[0]}/touchpoints", {"key": "mail", "name": "Mail", "channel": "email"}
        ).status_code
        == 303
    )
    assert analyst.post(f"/journeys/{jid}/edit", {"name": "Onboarding v2", "description": "d"}).status_code == 303
    assert analyst.post(f"/stages/{stage_ids[1]}/edit", {"name": "Activation"}).status_code == 303
    tps = _read(workspace, jid).stages[0].touchpoints
    assert (
        analyst.post(f"/touchpoints/{tps[1].id}/edit", {"name": "Welcome mail", "channel": "chat"}).status_code == 303
    )
    read = _read(workspace, jid)
    assert read.name == "Onboarding v2"
    assert [s.name for s in read.stages] == ["Sign up", "Activation", "Pay"]
    assert [(t.name, t.channel) for t in read.stages[0].touchpoints] == [("Form", "web"), ("Welcome mail", "chat")]
    page = analyst.get(url).text
    assert 'data-testid="touchpoint-name">Welcome mail<' in page and 'data-testid="touchpoint-channel">chat<' in page


def _move_order(page: str, stage_id: int, direction: str) -> str:
    """The full order carried by a stage's move button, as the browser would post it."""
    section = page[page.index(f'data-stage-id="{stage_id}"') :]
    section = section[: section.index("</section>")]
    forms = re.findall(r'name="ids" value="([^"]+)">\s*<button[^>]*data-testid="stage-move-(\w+)"', section)
    return {d: o for o, d in forms}[direction]


def test_reorder_stages_with_move_buttons_skips_archived(web: Callable[[str], WebUser], workspace: Workspace) -> None:
    ids = seed_journey(workspace.db, workspace.principal())
    analyst = web("analyst")
    url = f"/journeys/{ids['journey']}"
    assert analyst.post(f"{url}/stages", {"key": "pay", "name": "Pay"}).status_code == 303
    pay = _read(workspace, ids["journey"]).stages[2].id
    page = analyst.get(url).text
    r = analyst.post(f"{url}/stages/order", {"ids": _move_order(page, pay, "left")})
    assert r.status_code == 303
    assert _stage_names(analyst.get(url).text) == ["Browse", "Pay", "Support"]
    # Archive "Pay": it disappears (and its slot is kept when others move), then shows with the toggle.
    assert analyst.post(f"/stages/{pay}/archive", {"archive": "1"}).status_code == 303
    page = analyst.get(url).text
    assert _stage_names(page) == ["Browse", "Support"]
    r = analyst.post(f"{url}/stages/order", {"ids": _move_order(page, ids["support"], "left")})
    assert r.status_code == 303
    assert [s.name for s in _read(workspace, ids["journey"]).stages] == ["Support", "Pay", "Browse"]
    shown = analyst.get(f"{url}?archived=1").text
    assert _stage_names(shown) == ["Support", "Pay", "Browse"] and "Unarchive" in shown
    assert (
        analyst.post(f"/stages/{pay}/archive", {"archive": "0", "archived": "1"}).headers["location"]
        == f"{url}?archived=1"
    )
    assert _stage_names(analyst.get(url).text) == ["Support", "Pay", "Browse"]


def test_reorder_and_archive_touchpoints(web: Callable[[str], WebUser], workspace: Workspace) -> None:
    ids = seed_journey(workspace.db, workspace.principal())
    analyst = web("analyst")
    url = f"/journeys/{ids['journey']}"
    order = f"{ids['chatbot']},{ids['call']}"
    assert analyst.post(f"/stages/{ids['support']}/touchpoints/order", {"ids": order}).status_code == 303
    page = analyst.get(url).text
    assert page.index("Chat bot") < page.index("Call centre")
    assert analyst.post(f"/touchpoints/{ids['call']}/archive", {"archive": "1"}).status_code == 303
    assert "Call centre" not in analyst.get(url).text
    assert "Call centre" in analyst.get(f"{url}?archived=1").text
    assert analyst.post(f"/journeys/{ids['journey']}/archive", {"archive": "1"}).status_code == 303
    assert "Purchase" not in analyst.get("/journeys").text
    assert "Purchase" in analyst.get("/journeys?archived=1").text


def test_errors_rerender_with_a_readable_message(web: Callable[[str], WebUser], workspace: Workspace) -> None:
    ids = seed_journey(workspace.db, workspace.principal())
    analyst = web("analyst")
    dup = analyst.post("/journeys", {"key": "buy", "name": "Again"})
    assert dup.status_code == 409
    assert "A journey with the key &#39;buy&#39; already exists." in dup.text
    assert 'value="Again"' in dup.text  # the form keeps what was typed
    bad_key = analyst.post("/journeys", {"key": "has space", "name": "X"})
    assert bad_key.status_code == 422 and "key: use only letters, digits" in bad_key.text
    url = f"/journeys/{ids['journey']}"
    cases = [
        (
            f"{url}/stages",
            {"key": "browse", "name": "Dup"},
            409,
            "A stage with the key &#39;browse&#39; in this journey already exists.",
        ),
        (
            f"/stages/{ids['browse']}/touchpoints",
            {"key": "call", "name": "Dup", "channel": "web"},
            409,
            "A touchpoint with the key &#39;call&#39; already exists.",
        ),
        (f"/stages/{ids['browse']}/touchpoints", {"key": "fax", "name": "Fax", "channel": "fax"}, 422, "channel:"),
        (f"{url}/stages/order", {"ids": str(ids["browse"])}, 422, "Reorder needs every stage id exactly once"),
        (f"{url}/stages/order", {"ids": "1,two"}, 422, "comma-separated list of ids"),
        (f"/stages/{ids['browse']}/edit", {"name": "x" * 201}, 422, "name:"),
    ]
    for post_url, data, status, message in cases:
        r = analyst.post(post_url, data)
        assert r.status_code == status, (post_url, r.text[:300])
        assert message in html.unescape(r.text) or message in r.text, post_url
        assert 'data-testid="form-error"' in r.text
    read = _read(workspace, ids["journey"])
    assert [s.key for s in read.stages] == ["browse", "support"]
    assert [t.key for t in read.stages[0].touchpoints] == ["site"]
    assert analyst.get("/journeys/424242").status_code == 404
    assert analyst.post("/stages/424242/edit", {"name": "x"}).status_code == 404


def test_post_without_csrf_token_is_refused(web: Callable[[str], WebUser], workspace: Workspace) -> None:
    analyst = web("analyst")
    r = analyst.post("/journeys", {"key": "nocsrf", "name": "No CSRF"}, csrf=False)
    assert r.status_code == 403
    assert "CSRF" in r.text
    with workspace.db.unit_of_work(readonly=True) as session:
        assert journey_service.list_journeys(session, workspace_id=workspace.id) == []
