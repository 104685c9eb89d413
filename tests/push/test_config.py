"""Push settings from the environment."""

from __future__ import annotations

import pytest

from server.push.cli import PushServices
from server.push.config import PushConfig, parse_leads, push_config


def test_parse_leads():
    assert parse_leads("2,0") == {"default": (2, 0)}
    assert parse_leads("default=2,0;sin_notification=3,1,0") == {"default": (2, 0), "sin_notification": (3, 1, 0)}
    for bad in ("x", "2,-1", "default=99"):
        with pytest.raises(SystemExit):
            parse_leads(bad)


def test_from_env(monkeypatch):
    monkeypatch.setenv("CASEFLOW_REMINDER_LEAD_DAYS", "sin_notification=3,0")
    monkeypatch.setenv("CASEFLOW_PUSH_HOSTS", "googleapis.com, .push.apple.com")
    monkeypatch.setenv("CASEFLOW_ESCALATION_ROLES", "business_team")
    monkeypatch.setenv("CASEFLOW_PUSH_TIMEOUT_SECONDS", "3.5")
    config = PushConfig.from_env()
    assert config.leads_for("sin_notification") == (3, 0) and config.leads_for("other") == (2, 0)
    assert config.allowed_hosts == ("googleapis.com", "push.apple.com")
    assert config.escalation_roles == ("business_team",) and config.timeout == 3.5
    monkeypatch.setenv("CASEFLOW_PUSH_SUBJECT", "ops@example.org")
    with pytest.raises(SystemExit):
        PushConfig.from_env()
    monkeypatch.setenv("CASEFLOW_PUSH_SUBJECT", "mailto:ops@example.org")
    monkeypatch.setenv("CASEFLOW_PUSH_CONCURRENCY", "0")
    with pytest.raises(SystemExit):
        PushConfig.from_env()


def test_subject_defaults_to_an_https_public_url(monkeypatch, tmp_path):
    from server.config import Settings

    monkeypatch.delenv("CASEFLOW_PUSH_SUBJECT", raising=False)
    https = PushServices(Settings(data_dir=tmp_path, public_url="https://caseflow.example.org/"), store=None)
    assert push_config(https).subject == "https://caseflow.example.org"
    plain = PushServices(Settings(data_dir=tmp_path, public_url="http://127.0.0.1:8000"), store=None)
    assert push_config(plain).subject.startswith("mailto:")
