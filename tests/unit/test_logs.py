import io
import json
import logging

from shared import logs


def _capture():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.CloudLoggingFormatter())
    logger = logging.getLogger(f"test.{id(stream)}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_lines_are_json_with_severity_context_and_only_allowed_fields():
    logger, stream = _capture()
    with logs.bound(
        function="join", **logs.trace_fields({"X-Cloud-Trace-Context": "0af7651916cd43dd8448eb211c80319c/42;o=1"}, "p")
    ):
        logs.bind(interview_id="iv1")
        logs.log(logger, logging.WARNING, "hello", status=404, email="someone@example.com", token="secret")
    entry = json.loads(stream.getvalue())
    assert entry["severity"] == "WARNING" and entry["message"] == "hello"
    assert entry["logging.googleapis.com/trace"] == "projects/p/traces/0af7651916cd43dd8448eb211c80319c"
    assert entry["logging.googleapis.com/spanId"] == "42"
    assert (entry["function"], entry["interview_id"], entry["status"]) == ("join", "iv1", 404)
    assert "email" not in entry and "token" not in entry


def test_context_ends_with_the_block():
    logger, stream = _capture()
    with logs.bound(interview_id="iv1"):
        pass
    logger.info("after")
    assert "interview_id" not in json.loads(stream.getvalue())


def test_traceparent_wins_and_garbage_is_ignored():
    fields = logs.trace_fields({"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, "p")
    assert fields["logging.googleapis.com/trace"].endswith("/4bf92f3577b34da6a3ce929d0e0e4736")
    assert logs.trace_fields({"X-Cloud-Trace-Context": "not hex/1"}, "p") == {}
    assert logs.trace_fields({}, "p") == {}


def test_exceptions_carry_their_stack_trace_for_error_reporting():
    logger, stream = _capture()
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("failed")
    entry = json.loads(stream.getvalue())
    assert entry["severity"] == "ERROR" and "RuntimeError: boom" in entry["stack_trace"]
