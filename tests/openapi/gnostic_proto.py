"""Message classes for gnostic's ``openapi.v2`` protobuf, built at test time from the facts
of ``openapiv2/OpenAPIv2.proto`` (names, numbers, oneofs) for the messages a Kubernetes v2
document reaches, so our hand-written encoder is checked by the real protobuf runtime.

No Python gnostic package exists on PyPI, hence the descriptors here.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {"string": F.TYPE_STRING, "bool": F.TYPE_BOOL, "double": F.TYPE_DOUBLE, "int64": F.TYPE_INT64}

# message -> fields "name number type"; a leading "*" makes the field repeated, a trailing
# "|group" puts it in that oneof.  gnostic's Any.value (a google.protobuf.Any) is left out.
_PRIMITIVE_TAIL = ("type string", "format string", "items PrimitivesItems", "collection_format string",
                   "default Any", "maximum double", "exclusive_maximum bool", "minimum double",
                   "exclusive_minimum bool", "max_length int64", "min_length int64", "pattern string",
                   "max_items int64", "min_items int64", "unique_items bool", "*enum Any", "multiple_of double")


def _numbered(*fields: str) -> list[str]:
    """Number "name type" specs 1, 2, ... in order."""
    return [f"{name} {i} {typ}" for i, (name, typ) in enumerate((f.split() for f in fields), 1)]


MESSAGES: dict[str, list[str]] = {
    "Any": ["yaml 2 string"],
    "NamedAny": ["name 1 string", "value 2 Any"],
    "Document": ["swagger 1 string", "info 2 Info", "host 3 string", "base_path 4 string", "*schemes 5 string",
                 "*consumes 6 string", "*produces 7 string", "paths 8 Paths", "definitions 9 Definitions",
                 "*security 12 SecurityRequirement", "security_definitions 13 SecurityDefinitions",
                 "*vendor_extension 16 NamedAny"],
    "Info": ["title 1 string", "version 2 string", "description 3 string", "*vendor_extension 7 NamedAny"],
    "Paths": ["*vendor_extension 1 NamedAny", "*path 2 NamedPathItem"],
    "NamedPathItem": ["name 1 string", "value 2 PathItem"],
    "PathItem": ["_ref 1 string", "get 2 Operation", "put 3 Operation", "post 4 Operation", "delete 5 Operation",
                 "options 6 Operation", "head 7 Operation", "patch 8 Operation", "*parameters 9 ParametersItem",
                 "*vendor_extension 10 NamedAny"],
    "Operation": ["*tags 1 string", "summary 2 string", "description 3 string", "operation_id 5 string",
                  "*produces 6 string", "*consumes 7 string", "*parameters 8 ParametersItem",
                  "responses 9 Responses", "*schemes 10 string", "deprecated 11 bool",
                  "*security 12 SecurityRequirement", "*vendor_extension 13 NamedAny"],
    "ParametersItem": ["parameter 1 Parameter|oneof", "json_reference 2 JsonReference|oneof"],
    "JsonReference": ["_ref 1 string", "description 2 string"],
    "Parameter": ["body_parameter 1 BodyParameter|oneof", "non_body_parameter 2 NonBodyParameter|oneof"],
    "BodyParameter": ["description 1 string", "name 2 string", "in 3 string", "required 4 bool",
                      "schema 5 Schema", "*vendor_extension 6 NamedAny"],
    "NonBodyParameter": ["header_parameter_sub_schema 1 HeaderParameterSubSchema|oneof",
                         "form_data_parameter_sub_schema 2 FormDataParameterSubSchema|oneof",
                         "query_parameter_sub_schema 3 QueryParameterSubSchema|oneof",
                         "path_parameter_sub_schema 4 PathParameterSubSchema|oneof"],
    "PrimitivesItems": [*_numbered(*_PRIMITIVE_TAIL), "*vendor_extension 18 NamedAny"],
    "HeaderParameterSubSchema": [*_numbered("required bool", "in string", "description string", "name string",
                                            *_PRIMITIVE_TAIL), "*vendor_extension 22 NamedAny"],
    "PathParameterSubSchema": [*_numbered("required bool", "in string", "description string", "name string",
                                          *_PRIMITIVE_TAIL), "*vendor_extension 22 NamedAny"],
    "QueryParameterSubSchema": [*_numbered("required bool", "in string", "description string", "name string",
                                           "allow_empty_value bool", *_PRIMITIVE_TAIL),
                                "*vendor_extension 23 NamedAny"],
    "FormDataParameterSubSchema": [*_numbered("required bool", "in string", "description string", "name string",
                                              "allow_empty_value bool", *_PRIMITIVE_TAIL),
                                   "*vendor_extension 23 NamedAny"],
    "Responses": ["*response_code 1 NamedResponseValue", "*vendor_extension 2 NamedAny"],
    "NamedResponseValue": ["name 1 string", "value 2 ResponseValue"],
    "ResponseValue": ["response 1 Response|oneof", "json_reference 2 JsonReference|oneof"],
    "Response": ["description 1 string", "schema 2 SchemaItem", "*vendor_extension 5 NamedAny"],
    "SchemaItem": ["schema 1 Schema|oneof", "file_schema 2 FileSchema|oneof"],
    "FileSchema": ["format 1 string", "title 2 string", "description 3 string", "default 4 Any",
                   "*required 5 string", "type 6 string", "read_only 7 bool", "example 9 Any",
                   "*vendor_extension 10 NamedAny"],
    "Definitions": ["*additional_properties 1 NamedSchema"],
    "Properties": ["*additional_properties 1 NamedSchema"],
    "NamedSchema": ["name 1 string", "value 2 Schema"],
    "Schema": ["_ref 1 string", "format 2 string", "title 3 string", "description 4 string", "default 5 Any",
               "multiple_of 6 double", "maximum 7 double", "exclusive_maximum 8 bool", "minimum 9 double",
               "exclusive_minimum 10 bool", "max_length 11 int64", "min_length 12 int64", "pattern 13 string",
               "max_items 14 int64", "min_items 15 int64", "unique_items 16 bool", "max_properties 17 int64",
               "min_properties 18 int64", "*required 19 string", "*enum 20 Any",
               "additional_properties 21 AdditionalPropertiesItem", "type 22 TypeItem", "items 23 ItemsItem",
               "*all_of 24 Schema", "properties 25 Properties", "discriminator 26 string", "read_only 27 bool",
               "example 30 Any", "*vendor_extension 31 NamedAny"],
    "AdditionalPropertiesItem": ["schema 1 Schema|oneof", "boolean 2 bool|oneof"],
    "TypeItem": ["*value 1 string"],
    "ItemsItem": ["*schema 1 Schema"],
    "SecurityRequirement": ["*additional_properties 1 NamedStringArray"],
    "NamedStringArray": ["name 1 string", "value 2 StringArray"],
    "StringArray": ["*value 1 string"],
    "SecurityDefinitions": ["*additional_properties 1 NamedSecurityDefinitionsItem"],
    "NamedSecurityDefinitionsItem": ["name 1 string", "value 2 SecurityDefinitionsItem"],
    "SecurityDefinitionsItem": ["basic_authentication_security 1 BasicAuthenticationSecurity|oneof",
                                "api_key_security 2 ApiKeySecurity|oneof"],
    "BasicAuthenticationSecurity": ["type 1 string", "description 2 string", "*vendor_extension 3 NamedAny"],
    "ApiKeySecurity": ["type 1 string", "name 2 string", "in 3 string", "description 4 string",
                       "*vendor_extension 5 NamedAny"],
}


@cache
def classes() -> dict[str, type[Message]]:
    fdp = descriptor_pb2.FileDescriptorProto(name="test_openapiv2.proto", package="openapi.v2", syntax="proto3")
    for mname, fields in MESSAGES.items():
        msg = fdp.message_type.add(name=mname)
        oneofs: list[str] = []
        for spec in fields:
            spec, _, group = spec.partition("|")
            name, num, typ = spec.split()
            f = msg.field.add(name=name.lstrip("*"), number=int(num),
                              label=F.LABEL_REPEATED if name.startswith("*") else F.LABEL_OPTIONAL)
            if typ in _SCALARS:
                f.type = _SCALARS[typ]
            else:
                f.type, f.type_name = F.TYPE_MESSAGE, f".openapi.v2.{typ}"
            if group:
                if group not in oneofs:
                    oneofs.append(group)
                    msg.oneof_decl.add(name=group)
                f.oneof_index = oneofs.index(group)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"openapi.v2.{name}"))
            for name in MESSAGES}


def parse(name: str, data: bytes) -> Any:
    msg = classes()[name]()
    msg.ParseFromString(data)
    return msg


def unknown_field_paths(msg: Message, path: str = "") -> list[str]:
    """Where the decoded message kept bytes no field of ours describes (should be nowhere)."""
    from google.protobuf.unknown_fields import UnknownFieldSet

    out = [path or "/"] if len(UnknownFieldSet(msg)) else []
    for fd, value in msg.ListFields():
        if fd.type != F.TYPE_MESSAGE:
            continue
        for i, sub in enumerate(value if fd.is_repeated else [value]):
            out += unknown_field_paths(sub, f"{path}/{fd.name}[{i}]")
    return out
