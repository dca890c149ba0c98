"""Authentication: the authenticators of the union (x509, request header, token file,
service accounts, bootstrap tokens, webhook), the first-start PKI and the review APIs."""
