import pytest

from shared.config import VARIABLES, ConfigError, Settings


def test_defaults_from_a_minimal_environment():
    settings = Settings.from_env({"CONVENE_PROJECT_ID": "p1"})
    assert settings.project_id == settings.firebase_project_id == "p1"
    assert (settings.join_opens_minutes, settings.join_closes_minutes) == (15, 60)
    assert settings.secrets_backend == "secretmanager"
    assert settings.cors_origins == ()


def test_google_cloud_project_is_the_fallback_and_lists_are_parsed():
    settings = Settings.from_env(
        {
            "GOOGLE_CLOUD_PROJECT": "p2",
            "CONVENE_CORS_ORIGINS": " https://a.example, ,https://b.example",
            "CONVENE_JOIN_OPENS_MINUTES": "5",
        }
    )
    assert settings.project_id == "p2"
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.join_opens_minutes == 5


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, "CONVENE_PROJECT_ID"),
        ({"CONVENE_PROJECT_ID": "p", "CONVENE_JOIN_OPENS_MINUTES": "soon"}, "CONVENE_JOIN_OPENS_MINUTES"),
        ({"CONVENE_PROJECT_ID": "p", "CONVENE_JOIN_CLOSES_MINUTES": "-1"}, "CONVENE_JOIN_CLOSES_MINUTES"),
        ({"CONVENE_PROJECT_ID": "p", "CONVENE_SECRETS_BACKEND": "vault"}, "CONVENE_SECRETS_BACKEND"),
        ({"CONVENE_PROJECT_ID": "p", "CONVENE_SECRETS_BACKEND": "local"}, "CONVENE_LOCAL_SECRETS_FILE"),
    ],
)
def test_bad_configuration_names_the_variable(env, names):
    with pytest.raises(ConfigError, match=names):
        Settings.from_env(env)


def test_every_variable_is_documented_in_the_readme():
    from devstack.processes import ROOT

    readme = (ROOT / "README.md").read_text()
    assert [name for name in VARIABLES if name not in readme] == []


def test_the_scheduling_url_is_a_base_url_and_required_of_a_deployment():
    """Emailed manage and respond links are {base}/manage#token=… and {base}/respond#token=…: no double slash."""
    from shared.config import DEPLOYMENT_REQUIRED, LOCAL_ONLY

    assert Settings.from_env({"CONVENE_PROJECT_ID": "p"}).scheduling_url == ""  # unset: emails carry no such links
    configured = Settings.from_env({"CONVENE_PROJECT_ID": "p", "CONVENE_SCHEDULING_URL": " https://s.example/sched/ "})
    assert configured.scheduling_url == "https://s.example/sched"
    assert "CONVENE_SCHEDULING_URL" in DEPLOYMENT_REQUIRED and "CONVENE_SCHEDULING_URL" not in LOCAL_ONLY
