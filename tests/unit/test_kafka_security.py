"""runtime.kafka_security: one definition of the Kafka client security for librdkafka and Java."""

from __future__ import annotations

import pytest

from runtime.kafka_security import jaas_quote, java_client_config, librdkafka_config


@pytest.fixture
def ca_file(tmp_path):
    path = tmp_path / "ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n")
    return str(path)


@pytest.fixture
def sasl_env(ca_file):
    return {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "producer",
            "KAFKA_SASL_PASSWORD": "pa55", "KAFKA_SSL_CA_FILE": ca_file}


def test_plaintext_is_the_default_and_ignores_the_sasl_variables():
    env = {"KAFKA_SASL_USERNAME": "ignored", "KAFKA_SASL_PASSWORD": "ignored"}
    assert librdkafka_config({}) == {"security.protocol": "PLAINTEXT"}
    assert java_client_config(env) == {"security.protocol": "PLAINTEXT"}


def test_sasl_ssl_for_librdkafka(sasl_env, ca_file):
    assert librdkafka_config(sasl_env) == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": "producer",
        "sasl.password": "pa55",
        "ssl.ca.location": ca_file,
    }


def test_sasl_ssl_for_the_java_client(sasl_env, ca_file):
    sasl_env["KAFKA_SASL_MECHANISM"] = "scram-sha-256"
    assert java_client_config(sasl_env) == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
                            'username="producer" password="pa55";',
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": ca_file,
    }


def test_plain_mechanism_uses_the_plain_login_module(sasl_env):
    sasl_env["KAFKA_SASL_MECHANISM"] = "PLAIN"
    jaas = java_client_config(sasl_env)["sasl.jaas.config"]
    assert jaas.startswith("org.apache.kafka.common.security.plain.PlainLoginModule required ")


def test_jaas_values_escape_quotes_backslashes_and_line_breaks(sasl_env):
    sasl_env["KAFKA_SASL_PASSWORD"] = 'a"b\\c\nd'
    jaas = java_client_config(sasl_env)["sasl.jaas.config"]
    assert jaas.endswith(' password="a\\"b\\\\c\\nd";')
    assert jaas_quote('say "hi"') == '"say \\"hi\\""'
    assert librdkafka_config(sasl_env)["sasl.password"] == 'a"b\\c\nd'  # librdkafka: verbatim


@pytest.mark.parametrize("missing", ["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD",
                                     "KAFKA_SSL_CA_FILE"])
@pytest.mark.parametrize("build", [librdkafka_config, java_client_config])
def test_sasl_without_credentials_or_ca_names_the_variable(sasl_env, missing, build):
    del sasl_env[missing]
    with pytest.raises(ValueError, match=f"needs {missing}"):
        build(sasl_env)


def test_a_ca_file_that_does_not_exist_is_an_error(sasl_env, tmp_path):
    sasl_env["KAFKA_SSL_CA_FILE"] = str(tmp_path / "missing.pem")
    with pytest.raises(ValueError, match="KAFKA_SSL_CA_FILE=.*is not a file"):
        librdkafka_config(sasl_env)


@pytest.mark.parametrize("build", [librdkafka_config, java_client_config])
def test_unknown_protocol_and_mechanism_are_errors(sasl_env, build):
    with pytest.raises(ValueError, match="KAFKA_SECURITY_PROTOCOL='SSL_ONLY' is not supported"):
        build({"KAFKA_SECURITY_PROTOCOL": "ssl_only"})
    sasl_env["KAFKA_SASL_MECHANISM"] = "GSSAPI"
    with pytest.raises(ValueError, match="KAFKA_SASL_MECHANISM='GSSAPI' is not supported"):
        build(sasl_env)


def test_the_password_is_not_in_error_messages_or_reprs(sasl_env):
    from runtime.kafka_security import from_env

    assert "pa55" not in repr(from_env(sasl_env))
    del sasl_env["KAFKA_SSL_CA_FILE"]
    with pytest.raises(ValueError) as error:
        librdkafka_config(sasl_env)
    assert "pa55" not in str(error.value)


def test_the_producer_merges_security_under_its_own_overrides(sasl_env, monkeypatch):
    from producer.kafka_writer import producer_config

    for name, value in sasl_env.items():
        monkeypatch.setenv(name, value)
    config = producer_config("broker:9093", {"sasl.username": "override"})
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.password"] == "pa55"
    assert config["sasl.username"] == "override"  # KAFKA_PRODUCER_CONFIG wins
    assert config["enable.idempotence"] is True


def test_the_producer_cli_rejects_incomplete_security(monkeypatch, capsys):
    from producer.config import parse

    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(SystemExit):
        parse(["--source", "simulator"])
    assert "needs KAFKA_SASL_USERNAME" in capsys.readouterr().err
    parse(["--source", "simulator", "--sink", "stdout"])  # no Kafka, no check


def test_the_job_passes_the_java_settings_to_the_kafka_source(sasl_env, capsys):
    from spark_jobs.config import parse_args

    config = parse_args([], env=sasl_env)
    assert config.kafka_options["kafka.security.protocol"] == "SASL_SSL"
    assert config.kafka_options["kafka.sasl.mechanism"] == "SCRAM-SHA-512"
    assert 'password="pa55"' in config.kafka_options["kafka.sasl.jaas.config"]
    assert "pa55" not in repr(config)
    assert parse_args([], env={}).kafka_options == {"kafka.security.protocol": "PLAINTEXT"}
    with pytest.raises(SystemExit):
        parse_args([], env={"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})
    assert "needs KAFKA_SASL_USERNAME" in capsys.readouterr().err
