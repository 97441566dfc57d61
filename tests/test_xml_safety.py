"""Uploaded XML is parsed hardened before SpiffWorkflow sees it."""
from __future__ import annotations

import pytest

from orchestrator.engine import xmlsafe
from orchestrator.services.errors import DeployRefused

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" name="&xxe;" isExecutable="true"/>
</bpmn:definitions>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" name="&lol4;" isExecutable="true"/>
</bpmn:definitions>"""

UTF16_XXE = XXE.decode().replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>').encode("utf-16")


@pytest.mark.parametrize("content", [XXE, BILLION_LAUGHS, UTF16_XXE], ids=["xxe", "billion-laughs", "utf16-xxe"])
def test_entity_tricks_are_refused_before_parsing(content):
    with pytest.raises(xmlsafe.UnsafeXml, match="DOCTYPE"):
        xmlsafe.parse(content)


def test_files_over_the_size_limit_are_refused():
    with pytest.raises(xmlsafe.UnsafeXml, match="større enn"):
        xmlsafe.parse(b"<a>" + b" " * (xmlsafe.MAX_BYTES + 1) + b"</a>")


def test_malformed_xml_reports_the_line():
    with pytest.raises(xmlsafe.UnsafeXml) as error:
        xmlsafe.parse(b"<a>\n<b>\n</a>")
    assert error.value.line == 3


@pytest.mark.parametrize("content", [XXE, BILLION_LAUGHS], ids=["xxe", "billion-laughs"])
def test_deploy_refuses_entity_files_and_names_them(deploy, content):
    with pytest.raises(DeployRefused) as refused:
        deploy(("farlig.bpmn", content))
    assert refused.value.problems[0].file == "farlig.bpmn"
    assert "passwd" not in refused.value.message
