"""The operations this server implements, as botocore's `pinpoint` model describes them.

Each entry says where its input comes from (URI labels, query string, JSON body) and what
status it answers with. The provider method that serves it is the operation's name in
snake_case. `tests/test_service_model.py` checks every entry against botocore's model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from msgspec import Struct

from openpinpoint.core.channels import PLATFORMS
from openpinpoint.core.messaging_shapes import MessageRequest, SendUsersMessageRequest
from openpinpoint.core.segment_shapes import WriteSegmentRequest
from openpinpoint.core.shapes import (
    CreateApplicationRequest,
    EndpointBatchRequest,
    EndpointRequest,
    ExportJobRequest,
    ImportJobRequest,
    TagsModel,
    UpdateAttributesRequest,
)
from openpinpoint.core.template_shapes import (
    EmailTemplateRequest,
    PushNotificationTemplateRequest,
    SMSTemplateRequest,
    TemplateActiveVersionRequest,
)


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    uri: str
    status: int
    body: type[Struct] | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    """Scalar query parameters: wire name -> argument name."""
    list_query: Mapping[str, str] = field(default_factory=dict)
    """Repeated query parameters: wire name -> argument name (a list)."""
    output: str | None = None
    """The payload member of the modeled output shape, or None when there is no body."""

    @cached_property
    def handler(self) -> str:
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.name).lower()


def _template_operations() -> tuple[Operation, ...]:
    """Create/Get/Update/Delete for each template type this server keeps; VOICE and INAPP
    templates are not served."""
    found: list[Operation] = []
    for kind, path, body in (
        ("Email", "email", EmailTemplateRequest),
        ("Sms", "sms", SMSTemplateRequest),
        ("Push", "push", PushNotificationTemplateRequest),
    ):
        uri = f"/v1/templates/{{template-name}}/{path}"
        version = {"version": "version"}
        found += [
            Operation(
                f"Create{kind}Template",
                "POST",
                uri,
                201,
                body=body,
                output="CreateTemplateMessageBody",
            ),
            Operation(
                f"Get{kind}Template",
                "GET",
                uri,
                200,
                query=version,
                output=f"{body.__name__.removesuffix('Request')}Response",
            ),
            Operation(
                f"Update{kind}Template",
                "PUT",
                uri,
                202,
                body=body,
                query={"create-new-version": "create_new_version", **version},
                output="MessageBody",
            ),
            Operation(
                f"Delete{kind}Template", "DELETE", uri, 202, query=version, output="MessageBody"
            ),
        ]
    return tuple(found)


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "CreateApp",
        "POST",
        "/v1/apps",
        201,
        body=CreateApplicationRequest,
        output="ApplicationResponse",
    ),
    Operation("GetApp", "GET", "/v1/apps/{application-id}", 200, output="ApplicationResponse"),
    Operation(
        "GetApps",
        "GET",
        "/v1/apps",
        200,
        query={"page-size": "page_size", "token": "token"},
        output="ApplicationsResponse",
    ),
    Operation(
        "DeleteApp", "DELETE", "/v1/apps/{application-id}", 200, output="ApplicationResponse"
    ),
    Operation(
        "UpdateEndpoint",
        "PUT",
        "/v1/apps/{application-id}/endpoints/{endpoint-id}",
        202,
        body=EndpointRequest,
        output="MessageBody",
    ),
    Operation(
        "UpdateEndpointsBatch",
        "PUT",
        "/v1/apps/{application-id}/endpoints",
        202,
        body=EndpointBatchRequest,
        output="MessageBody",
    ),
    Operation(
        "GetEndpoint",
        "GET",
        "/v1/apps/{application-id}/endpoints/{endpoint-id}",
        200,
        output="EndpointResponse",
    ),
    Operation(
        "DeleteEndpoint",
        "DELETE",
        "/v1/apps/{application-id}/endpoints/{endpoint-id}",
        202,
        output="EndpointResponse",
    ),
    Operation(
        "GetUserEndpoints",
        "GET",
        "/v1/apps/{application-id}/users/{user-id}",
        200,
        output="EndpointsResponse",
    ),
    Operation(
        "DeleteUserEndpoints",
        "DELETE",
        "/v1/apps/{application-id}/users/{user-id}",
        202,
        output="EndpointsResponse",
    ),
    Operation(
        "RemoveAttributes",
        "PUT",
        "/v1/apps/{application-id}/attributes/{attribute-type}",
        200,
        body=UpdateAttributesRequest,
        output="AttributesResource",
    ),
    Operation(
        "CreateExportJob",
        "POST",
        "/v1/apps/{application-id}/jobs/export",
        202,
        body=ExportJobRequest,
        output="ExportJobResponse",
    ),
    Operation(
        "GetExportJob",
        "GET",
        "/v1/apps/{application-id}/jobs/export/{job-id}",
        200,
        output="ExportJobResponse",
    ),
    Operation(
        "GetExportJobs",
        "GET",
        "/v1/apps/{application-id}/jobs/export",
        200,
        query={"page-size": "page_size", "token": "token"},
        output="ExportJobsResponse",
    ),
    Operation(
        "CreateImportJob",
        "POST",
        "/v1/apps/{application-id}/jobs/import",
        201,
        body=ImportJobRequest,
        output="ImportJobResponse",
    ),
    Operation(
        "GetImportJob",
        "GET",
        "/v1/apps/{application-id}/jobs/import/{job-id}",
        200,
        output="ImportJobResponse",
    ),
    Operation(
        "GetImportJobs",
        "GET",
        "/v1/apps/{application-id}/jobs/import",
        200,
        query={"page-size": "page_size", "token": "token"},
        output="ImportJobsResponse",
    ),
    Operation("TagResource", "POST", "/v1/tags/{resource-arn}", 204, body=TagsModel),
    Operation(
        "UntagResource",
        "DELETE",
        "/v1/tags/{resource-arn}",
        204,
        list_query={"tagKeys": "tag_keys"},
    ),
    Operation("ListTagsForResource", "GET", "/v1/tags/{resource-arn}", 200, output="TagsModel"),
    # Channels and direct sends (engagement.md sections 2 and 3): Get, Update and Delete
    # for each platform's channel, GetChannels, SendMessages, SendUsersMessages.
    *(
        Operation(
            f"{verb}{platform.operation}Channel",
            method,
            f"/v1/apps/{{application-id}}/channels/{platform.id}",
            200,
            body=platform.request if verb == "Update" else None,
            output=platform.response.__name__,
        )
        for platform in PLATFORMS
        for verb, method in (("Get", "GET"), ("Update", "PUT"), ("Delete", "DELETE"))
    ),
    Operation(
        "GetChannels", "GET", "/v1/apps/{application-id}/channels", 200, output="ChannelsResponse"
    ),
    Operation(
        "SendMessages",
        "POST",
        "/v1/apps/{application-id}/messages",
        200,
        body=MessageRequest,
        output="MessageResponse",
    ),
    Operation(
        "SendUsersMessages",
        "POST",
        "/v1/apps/{application-id}/users-messages",
        200,
        body=SendUsersMessageRequest,
        output="SendUsersMessageResponse",
    ),
    # Message templates (engagement.md section 1; EMAIL, SMS and PUSH only)
    *_template_operations(),
    Operation(
        "ListTemplates",
        "GET",
        "/v1/templates",
        200,
        query={
            "next-token": "next_token",
            "page-size": "page_size",
            "prefix": "prefix",
            "template-type": "template_type",
        },
        output="TemplatesResponse",
    ),
    Operation(
        "ListTemplateVersions",
        "GET",
        "/v1/templates/{template-name}/{template-type}/versions",
        200,
        query={"next-token": "next_token", "page-size": "page_size"},
        output="TemplateVersionsResponse",
    ),
    Operation(
        "UpdateTemplateActiveVersion",
        "PUT",
        "/v1/templates/{template-name}/{template-type}/active-version",
        200,
        body=TemplateActiveVersionRequest,
        output="MessageBody",
    ),
    # Segments (engagement spec section 5)
    Operation(
        "CreateSegment",
        "POST",
        "/v1/apps/{application-id}/segments",
        201,
        body=WriteSegmentRequest,
        output="SegmentResponse",
    ),
    Operation(
        "GetSegments",
        "GET",
        "/v1/apps/{application-id}/segments",
        200,
        query={"page-size": "page_size", "token": "token"},
        output="SegmentsResponse",
    ),
    Operation(
        "GetSegment",
        "GET",
        "/v1/apps/{application-id}/segments/{segment-id}",
        200,
        output="SegmentResponse",
    ),
    Operation(
        "UpdateSegment",
        "PUT",
        "/v1/apps/{application-id}/segments/{segment-id}",
        200,
        body=WriteSegmentRequest,
        output="SegmentResponse",
    ),
    Operation(
        "DeleteSegment",
        "DELETE",
        "/v1/apps/{application-id}/segments/{segment-id}",
        200,
        output="SegmentResponse",
    ),
    Operation(
        "GetSegmentVersion",
        "GET",
        "/v1/apps/{application-id}/segments/{segment-id}/versions/{version}",
        200,
        output="SegmentResponse",
    ),
    Operation(
        "GetSegmentVersions",
        "GET",
        "/v1/apps/{application-id}/segments/{segment-id}/versions",
        200,
        query={"page-size": "page_size", "token": "token"},
        output="SegmentsResponse",
    ),
    Operation(
        "GetSegmentImportJobs",
        "GET",
        "/v1/apps/{application-id}/segments/{segment-id}/jobs/import",
        200,
        query={"page-size": "page_size", "token": "token"},
        output="ImportJobsResponse",
    ),
    Operation(
        "GetSegmentExportJobs",
        "GET",
        "/v1/apps/{application-id}/segments/{segment-id}/jobs/export",
        200,
        query={"page-size": "page_size", "token": "token"},
        output="ExportJobsResponse",
    ),
)
