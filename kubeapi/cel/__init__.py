"""CEL for Kubernetes: compile and evaluate rules the way the apiserver's CEL library does.

Shared by CustomResourceDefinition ``x-kubernetes-validations`` and (later) admission
policies.  Built on ``celpy`` (cel-python); Kubernetes' extension functions that rules commonly
use are added in ``kubeapi.cel.library``.
"""

from kubeapi.cel.engine import (
    CompileError,
    CostEstimate,
    EvalError,
    Program,
    compile_expression,
    compile_rule,
)

__all__ = ["CompileError", "CostEstimate", "EvalError", "Program", "compile_expression", "compile_rule"]
