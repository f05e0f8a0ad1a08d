"""The job's configuration: flags over environment over the shared topology."""

import pytest

from runtime import topology
from spark_jobs.config import parse_args
from spark_jobs.stream_to_clickhouse import checkpoint_s3a_settings


def test_defaults_come_from_the_topology():
    topo = topology.load()
    config = parse_args([], env={})
    assert (config.bootstrap_servers, config.topic) == (topo.kafka_bootstrap, topo.trades_topic)
    assert (config.clickhouse_url, config.clickhouse_database, config.clickhouse_user) == (
        topo.clickhouse_url, topo.clickhouse_database, topo.clickhouse_user)
    assert (config.windows_table, config.rejected_table, config.progress_table) == (
        topo.windows_table, topo.rejected_table, topo.progress_table)
    assert config.checkpoint_location == f"s3a://{topo.checkpoint_bucket}/stream_to_clickhouse"
    assert (config.window, config.watermark, config.output_mode) == (
        "30 seconds", "10 seconds", "append")
    assert config.available_now is False
    assert config.starting_offsets == "earliest"
    assert config.clickhouse_password == ""


def test_environment_overrides_defaults_and_flags_override_the_environment():
    env = {"STREAM_WINDOW": "1 minute", "STREAM_WATERMARK": "5  seconds",
           "STREAM_OUTPUT_MODE": "update", "STREAM_AVAILABLE_NOW": "true",
           "STREAM_SHUFFLE_PARTITIONS": "8", "KAFKA_TOPIC": "from-env"}
    config = parse_args(["--topic", "from-flag", "--max-offsets-per-trigger", "1000"], env=env)
    assert (config.window, config.watermark, config.output_mode) == (
        "1 minute", "5 seconds", "update")
    assert config.available_now is True
    assert config.shuffle_partitions == 8
    assert config.topic == "from-flag"
    assert config.max_offsets_per_trigger == 1000


def test_the_password_comes_from_the_environment_only_and_is_not_printed():
    config = parse_args([], env={"CLICKHOUSE_PASSWORD": "s3cret"})
    assert config.clickhouse_password == "s3cret"
    assert "s3cret" not in repr(config)
    with pytest.raises(SystemExit):
        parse_args(["--clickhouse-password", "x"], env={})


@pytest.mark.parametrize("argv, env, complaint", [
    (["--window", "30"], {}, "'30' is not a duration"),
    ([], {"STREAM_WATERMARK": "soon"}, "'soon' is not a duration"),
    (["--output-mode", "complete"], {}, "invalid choice"),
    ([], {"STREAM_OUTPUT_MODE": "complete"}, "output_mode 'complete' is not one of"),
    ([], {"STREAM_AVAILABLE_NOW": "maybe"}, "'maybe' is not a boolean"),
    (["--shuffle-partitions", "0"], {}, "must be a positive integer"),
])
def test_bad_values_are_refused_with_a_message_naming_them(argv, env, complaint, capsys):
    with pytest.raises(SystemExit):
        parse_args(argv, env=env)
    assert complaint in capsys.readouterr().err


def test_the_query_checkpoints_under_the_root():
    config = parse_args(["--checkpoint-location", "/tmp/ckpt/"], env={})
    assert config.windows_checkpoint == "/tmp/ckpt/windows"
    assert not config.checkpoint_on_s3
    assert checkpoint_s3a_settings(config, env={}) == {}


def test_s3a_checkpoints_use_the_configured_endpoint_path_style():
    config = parse_args(["--s3-endpoint", "http://127.0.0.1:4999"], env={})
    credentials = {"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "k"}
    settings = checkpoint_s3a_settings(config, env=credentials)
    assert settings["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:4999"
    assert settings["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert settings["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert settings["spark.hadoop.fs.s3a.access.key"] == "id"
    assert "spark.hadoop.fs.s3a.access.key" not in checkpoint_s3a_settings(config, env={})


def test_connector_jars_are_shipped_unless_the_workers_share_the_cache(monkeypatch):
    from spark_jobs import session

    monkeypatch.setattr(session, "connector_jars", lambda: ["/c/kafka.jar", "/c/aws.jar"])
    assert session.connector_settings(env={}) == {"spark.jars": "/c/kafka.jar,/c/aws.jar"}
    shared = session.connector_settings(env={"SPARK_WORKERS_SHARE_CONNECTORS": "true"})
    assert shared == {"spark.driver.extraClassPath": "/c/kafka.jar:/c/aws.jar",
                      "spark.executor.extraClassPath": "/c/kafka.jar:/c/aws.jar"}
