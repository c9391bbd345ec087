"""The notifier's memory stays bounded: the memory of a finding the correlator merges away goes with it
(`correlate --once --notify-config`, a real Suricata alert then the host's agent report), a periodic sweep drops the
memory of findings deleted any other way, the throttle forgets hosts not sent to within its period, and none of it
costs a duplicate notification for a finding that still exists."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from mcpeeker.client import make_client
from mcpeeker.correlate.instances import finding_id
from mcpeeker.notify import run_cycle
from mcpeeker.notify.engine import MEMORY_PREFIX, SWEEP_ID, WATERMARK_ID
from mcpeeker.sensors.suricata import run_suricata
from mcpeeker.settings import Settings

from cases.world import ATTACK_IP, ATTACK_PCAP, ATTACK_PORT, HOST_A, RULES, agent_report, ingest, ingest_report, key_of

from .conftest import Hook
from .test_correlate_hook import correlate_once
from .test_engine import config, finding, write

pytestmark = pytest.mark.opensearch


def memories(settings: Settings) -> set[str]:
    client = make_client(settings)
    client.indices.refresh(index=settings.index("mcp-state"))
    found = client.search(
        index=settings.index("mcp-state"), body={"size": 1000, "query": {"prefix": {"name": MEMORY_PREFIX}}}
    )
    return {hit["_id"][len(MEMORY_PREFIX) :] for hit in found["hits"]["hits"]}


def test_sweep_drops_memory_of_deleted_findings_only(os_settings: Settings, hook: Hook, tmp_path: Path) -> None:
    client = make_client(os_settings)
    one = {"all": {"type": "webhook", "url": hook.url, "retries": 0}}
    cfg = config(hook, channels=one, memory_sweep="1h")
    write(os_settings, finding("a"), finding("b", host="host-b"), finding("c", host="host-c"))
    first = run_cycle(os_settings, client, cfg, tmp_path)
    assert first.sent == 3 and first.forgotten == 0 and memories(os_settings) == {"a", "b", "c"}

    # Deleted outside the correlator (no merged ids handed over): the sweep finds it, once it is due.
    client.delete(index=os_settings.index("mcp-findings"), id="b", refresh=True)
    not_due = run_cycle(os_settings, client, cfg, tmp_path)
    assert not_due.forgotten == 0 and memories(os_settings) == {"a", "b", "c"}
    client.delete(index=os_settings.index("mcp-state"), id=SWEEP_ID, refresh=True)  # the last sweep, an hour ago
    swept = run_cycle(os_settings, client, cfg, tmp_path)
    assert swept.forgotten == 1 and memories(os_settings) == {"a", "c"}
    assert client.exists(index=os_settings.index("mcp-state"), id=SWEEP_ID)

    # The findings that still exist kept their memory: derived again from scratch (no watermark), they are worth
    # no event at all, and a later change is compared with what was announced (no second new_unauthorized).
    client.delete(index=os_settings.index("mcp-state"), id=WATERMARK_ID, refresh=True)
    again = run_cycle(os_settings, client, config(hook, channels=one, memory_sweep="0s"), tmp_path)
    assert (again.findings_read, again.events, again.sent, again.forgotten) == (2, 0, 0, 0)
    write(os_settings, finding("a", severity="critical"))
    raised = run_cycle(os_settings, client, cfg, tmp_path)
    assert raised.sent == 1 and hook.requests[-1]["delivery"] == "a:severity_raised:critical"
    assert [r["delivery"] for r in hook.requests].count("a:new_unauthorized:1") == 1


def test_throttle_forgets_hosts_quiet_for_its_period(os_settings: Settings, hook: Hook, tmp_path: Path) -> None:
    client = make_client(os_settings)
    cfg = config(
        hook,
        channels={"all": {"type": "webhook", "url": hook.url, "retries": 0}},
        throttle={"per_host": {"max": 5, "period": "1s"}, "per_channel": {"max": 100, "period": "1s"}},
    )
    write(os_settings, finding("a", host="host-a"), finding("b", host="host-b"))
    assert run_cycle(os_settings, client, cfg, tmp_path).sent == 2
    state = tmp_path / "throttle.json"
    assert set(orjson.loads(state.read_bytes())["sends"]) == {"all", "all|host-a", "all|host-b"}
    time.sleep(1.2)  # longer than every period of the channel
    write(os_settings, finding("c", host="host-c"))
    assert run_cycle(os_settings, client, cfg, tmp_path).sent == 1
    assert set(orjson.loads(state.read_bytes())["sends"]) == {"all", "all|host-c"}


@pytest.fixture(scope="module")
def attack_eve(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_suricata(ATTACK_PCAP, RULES, tmp_path_factory.mktemp("suricata"))


def test_memory_of_a_finding_merged_away_goes_with_it(
    os_settings: Settings, hook: Hook, attack_eve: Path, tmp_path: Path
) -> None:
    """Seen on the wire first (Suricata), then by its host's agent: the network finding merges into the host
    finding and `correlate` hands its id to the notifier, which drops its memory in the same cycle (the sweep,
    an hour apart, is not what does it)."""
    notify_yaml = tmp_path / "notify.yaml"
    notify_yaml.write_text(
        f"enabled: true\nmemory_sweep: 1h\nchannels:\n  soc:\n    type: webhook\n    url: {hook.url}\n"
    )

    def correlate() -> str:
        run = correlate_once(os_settings, notify_yaml, tmp_path / "state")
        assert run.returncode == 0, run.stderr
        return run.stderr

    ingest(os_settings, "suricata", attack_eve, tmp_path)
    first = correlate()
    net_id, host_id = finding_id(f"net:{ATTACK_IP}:{ATTACK_PORT}"), finding_id(key_of(HOST_A, ATTACK_PORT))
    assert "0 merged away" in first and memories(os_settings) == {net_id}

    ingest_report(os_settings, tmp_path, agent_report(HOST_A, ATTACK_IP, ATTACK_PORT), "agent")
    second = correlate()
    assert "1 merged away" in second, second
    assert "1 memory entr(y/ies) of gone findings dropped" in second, second
    assert memories(os_settings) == {host_id}
    # Nothing is left to say about either: a third cycle sends nothing and drops nothing.
    sent = len(hook.requests)
    third = correlate()
    assert "0 sent" in third and "0 memory entr(y/ies)" in third and len(hook.requests) == sent
