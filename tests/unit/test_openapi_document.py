import yaml
from openapi_spec_validator import validate

from tests.openapi import SPEC_PATH


def test_the_openapi_document_is_valid_openapi_3_1():
    document = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    validate(document)
    assert document["openapi"].startswith("3.1")
