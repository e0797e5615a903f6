"""Cognito tokens verified by the app where no API Gateway authorizer ran (websocket $connect)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.adapters import cognito_tokens
from chalicelib.api.auth import authenticate
from chalicelib.domain.errors import Unauthenticated
from chalicelib.settings import settings_from_env

POOL_ARN = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_TestPool"
ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool"
CLIENT = "app-client-1"


@pytest.fixture(scope="module")
def keys():
    """A signing key, an impostor's key, and the pool's key set served on loopback (as Cognito serves it)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": "k1", "use": "sig", "alg": "RS256"})
    body = json.dumps({"keys": [jwk]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self):
            status = 200 if self.path == "/.well-known/jwks.json" else 404
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body if status == 200 else b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"private": private, "other": other,
           "url": f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"}
    server.shutdown()
    server.server_close()


def token(keys, key=None, **overrides) -> str:
    now = int(time.time())
    claims = {"sub": "user-42", "iss": ISSUER, "aud": CLIENT, "token_use": "id", "exp": now + 600, "iat": now,
              "cognito:groups": ["admin"], **overrides}
    return jwt.encode(claims, key or keys["private"], algorithm="RS256", headers={"kid": "k1"})


def settings(keys, client=CLIENT):
    env = {"STAGE": "dev", "AUTH_MODE": "cognito", "COGNITO_USER_POOL_ARN": POOL_ARN, "COGNITO_JWKS_URL": keys["url"]}
    if client:
        env["COGNITO_APP_CLIENT_ID"] = client
    return settings_from_env(env)


def test_issuer_and_key_url_come_from_the_pool_arn():
    s = settings_from_env({"AUTH_MODE": "cognito", "COGNITO_USER_POOL_ARN": POOL_ARN})
    assert s.cognito_issuer == ISSUER
    assert s.cognito_jwks_url == ISSUER + "/.well-known/jwks.json"


def test_a_valid_id_token_of_the_pool_gives_its_principal(keys):
    principal = authenticate({"authorization": f"Bearer {token(keys)}"}, {}, settings(keys), require_admin=True)
    assert principal.user_id == "user-42" and principal.is_admin


def test_an_access_token_is_checked_against_client_id(keys):
    good = token(keys, token_use="access", aud=None, client_id=CLIENT)
    assert cognito_tokens.verify(good, ISSUER, keys["url"], CLIENT)["sub"] == "user-42"
    assert cognito_tokens.verify(token(keys, token_use="access", client_id="other"), ISSUER, keys["url"], CLIENT) is None


@pytest.mark.parametrize("bad", [
    {"iss": "https://cognito-idp.eu-west-1.amazonaws.com/another-pool"},
    {"aud": "another-client"},
    {"exp": int(time.time()) - 60},
    {"token_use": "refresh"},
])
def test_tokens_of_another_pool_client_or_use_or_expired_are_refused(keys, bad):
    with pytest.raises(Unauthenticated):
        authenticate({"authorization": f"Bearer {token(keys, **bad)}"}, {}, settings(keys))


def test_forged_signatures_and_algorithm_confusion_are_refused(keys):
    forged = token(keys, key=keys["other"])
    hs256 = jwt.encode({"sub": "x", "iss": ISSUER, "token_use": "id", "exp": int(time.time()) + 60}, "secret",
                       algorithm="HS256", headers={"kid": "k1"})
    for bad in (forged, hs256, "not-a-jwt"):
        with pytest.raises(Unauthenticated):
            authenticate({"authorization": f"Bearer {bad}"}, {}, settings(keys))


def test_authorizer_claims_are_used_when_api_gateway_verified_the_token(keys):
    context = {"authorizer": {"claims": {"sub": "via-gateway", "cognito:groups": "admin"}}}
    assert authenticate({}, context, settings(keys)).user_id == "via-gateway"


def test_no_token_and_unreachable_keys_fail_closed(keys):
    with pytest.raises(Unauthenticated):
        authenticate({}, {}, settings(keys))
    unreachable = settings_from_env({"AUTH_MODE": "cognito", "COGNITO_USER_POOL_ARN": POOL_ARN,
                                     "COGNITO_JWKS_URL": keys["url"].replace("jwks.json", "missing.json")})
    with pytest.raises(Unauthenticated):
        authenticate({"authorization": f"Bearer {token(keys)}"}, {}, unreachable)
