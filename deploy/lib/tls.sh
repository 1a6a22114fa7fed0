# shellcheck shell=bash
# Test certificates and TLS settings for the private PostgreSQL and RabbitMQ of
# deploy/lib/services.sh, which sources this file. Nothing here runs unless
# asked for: without the settings below, the private instances start exactly
# as before (plaintext only).
#
# tach_tls_certs DIR [SAN] writes into DIR, with the openssl command-line tool:
#   ca.pem ca.key               the test CA
#   server.pem server.key       signed by it; subjectAltName SAN
#                               (default DNS:localhost,IP:127.0.0.1)
#   client.pem client.key       signed by it; CN=postgres, extendedKeyUsage clientAuth
#   wrong-ca.pem wrong-ca.key   an unrelated CA that signed nothing above
#   wrong-client.pem wrong-client.key  a client certificate signed by the wrong CA
# All keys are EC P-256 in PKCS#8 PEM, mode 0600; certificates are mode 0644.
# A second call reuses the files while they still verify, match SAN and stay
# valid for another day; concurrent calls on one DIR take turns (flock).
#
# Settings (environment), read when the private instances start:
#   TACH_TLS_DIR             where the certificates live (<state>/tls); created on demand.
#   TACH_TLS_SERVER_SAN      the server certificate's subjectAltName (DNS:localhost,IP:127.0.0.1).
#   TACH_PRIVATE_PG_TLS      off (default) | on | required | verify-client
#       on             ssl=on; TCP clients may use TLS or not (pg_hba "hostssl"
#                      lines, then the plaintext "host" lines kept for comparison)
#       required       TCP clients must use TLS ("hostssl" lines only; a
#                      plaintext connection gets "no pg_hba.conf entry ... no encryption")
#       verify-client  as required, and the client must present a certificate
#                      signed by the test CA (clientcert=verify-ca)
#     The server uses copies of server.pem/server.key/ca.pem in <pg dir>/tls
#     (owned by the user that runs postgres, key mode 0600, as PostgreSQL
#     demands) and an hba_file there; the cluster's own postgresql.conf and
#     pg_hba.conf are not changed, so a later plaintext start is plaintext again.
#   TACH_PRIVATE_PG_TLS_ALIAS  a second loopback address PostgreSQL also listens
#                      on when TLS is on (127.0.0.2; empty: none). It is not in the
#                      server certificate, so host=127.0.0.2 sslmode=verify-full
#                      fails on the host name while sslmode=verify-ca passes.
#   TACH_PRIVATE_AMQP_TLS    off (default) | on | verify-client
#       on             an extra TLS listener on 127.0.0.1:$TACH_PRIVATE_AMQPS_PORT,
#                      ssl_options.verify = verify_peer, fail_if_no_peer_cert = false
#                      (a client certificate is checked when one is sent)
#       verify-client  the same with fail_if_no_peer_cert = true
#     The plaintext listener on $TACH_PRIVATE_AMQP_PORT stays.
#   TACH_PRIVATE_AMQPS_PORT  the TLS listener's port (55671).
#
# With TLS on, the private servers answer to, for example:
#   psql "host=localhost port=$TACH_PRIVATE_PG_PORT user=postgres sslmode=verify-full sslrootcert=$TACH_TLS_DIR/ca.pem"
#   postgres://postgres@localhost:$TACH_PRIVATE_PG_PORT/postgres?sslmode=verify-full&sslrootcert=$TACH_TLS_DIR/ca.pem
#   amqps://guest:guest@localhost:$TACH_PRIVATE_AMQPS_PORT/%2f?cacertfile=$TACH_TLS_DIR/ca.pem
#   openssl s_client -connect 127.0.0.1:$TACH_PRIVATE_AMQPS_PORT -CAfile $TACH_TLS_DIR/ca.pem -verify_return_error

TACH_TLS_DIR=${TACH_TLS_DIR:-$TACH_STATE_DIR/tls}
TACH_TLS_SERVER_SAN=${TACH_TLS_SERVER_SAN:-DNS:localhost,IP:127.0.0.1}
TACH_PRIVATE_PG_TLS=${TACH_PRIVATE_PG_TLS:-off}
TACH_PRIVATE_PG_TLS_ALIAS=${TACH_PRIVATE_PG_TLS_ALIAS-127.0.0.2}
TACH_PRIVATE_AMQP_TLS=${TACH_PRIVATE_AMQP_TLS:-off}
TACH_PRIVATE_AMQPS_PORT=${TACH_PRIVATE_AMQPS_PORT:-55671}

# Bumped when the set of files or their extensions change, so that older
# directories are regenerated.
TACH_TLS_LAYOUT=1

tach_tls_files() {
    printf '%s\n' ca.pem ca.key server.pem server.key client.pem client.key \
        wrong-ca.pem wrong-ca.key wrong-client.pem wrong-client.key
}

# True when DIR holds a complete, still valid set made for SAN.
tach_tls_certs_current() {
    local dir=$1 san=$2 file
    [[ -f $dir/stamp && $(<"$dir/stamp") == "layout=$TACH_TLS_LAYOUT san=$san" ]] || return 1
    while read -r file; do
        [[ -s $dir/$file ]] || return 1
    done < <(tach_tls_files)
    for file in ca server client wrong-ca wrong-client; do
        openssl x509 -noout -checkend 86400 -in "$dir/$file.pem" >/dev/null 2>&1 || return 1
    done
    openssl verify -CAfile "$dir/ca.pem" "$dir/server.pem" "$dir/client.pem" >/dev/null 2>&1 &&
        openssl verify -CAfile "$dir/wrong-ca.pem" "$dir/wrong-client.pem" >/dev/null 2>&1
}

# Writes the openssl configuration used for every certificate of the set.
tach_tls_openssl_config() {
    local san=$1
    cat <<EOF
# Written by tach's deploy/lib/tls.sh (test certificates).
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
}

# One EC P-256 key, PKCS#8 PEM.
tach_tls_key() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# tach_tls_ca WORK NAME CN: a self-signed CA, WORK/NAME.pem and WORK/NAME.key.
tach_tls_ca() {
    local work=$1 name=$2 cn=$3
    tach_tls_key "$work/$name.key" &&
        openssl req -x509 -new -config "$work/openssl.cnf" -extensions ca_ext \
            -key "$work/$name.key" -subj "/CN=$cn" -sha256 -days 3650 \
            -set_serial "0x$(openssl rand -hex 16)" -out "$work/$name.pem" 2>/dev/null
}

# tach_tls_leaf WORK NAME CN EXTENSIONS CA: WORK/NAME.pem signed by WORK/CA.
tach_tls_leaf() {
    local work=$1 name=$2 cn=$3 extensions=$4 ca=$5
    tach_tls_key "$work/$name.key" &&
        openssl req -new -config "$work/openssl.cnf" -key "$work/$name.key" \
            -subj "/CN=$cn" -out "$work/$name.csr" 2>/dev/null &&
        openssl x509 -req -in "$work/$name.csr" -CA "$work/$ca.pem" -CAkey "$work/$ca.key" \
            -set_serial "0x$(openssl rand -hex 16)" -sha256 -days 825 \
            -extfile "$work/openssl.cnf" -extensions "$extensions" \
            -out "$work/$name.pem" 2>/dev/null
}

# Generates the whole set into WORK (an empty directory).
tach_tls_generate() {
    local work=$1 san=$2
    tach_tls_openssl_config "$san" >"$work/openssl.cnf" &&
        tach_tls_ca "$work" ca "tach test CA" &&
        tach_tls_leaf "$work" server localhost server_ext ca &&
        tach_tls_leaf "$work" client postgres client_ext ca &&
        tach_tls_ca "$work" wrong-ca "tach wrong CA" &&
        tach_tls_leaf "$work" wrong-client postgres client_ext wrong-ca
}

# tach_tls_certs DIR [SAN]: see the top of this file.
tach_tls_certs() {
    local dir=${1:-$TACH_TLS_DIR} san=${2:-$TACH_TLS_SERVER_SAN}
    command -v openssl >/dev/null 2>&1 || tach_apt_install openssl || return 1
    mkdir -p "$dir" || tach_fail "cannot create $dir" || return 1
    # flock serializes test processes that share DIR; without it, a lone
    # caller still works.
    if command -v flock >/dev/null 2>&1; then
        (
            flock 9 || exit 1
            tach_tls_certs_locked "$dir" "$san"
        ) 9>"$dir/.lock"
    else
        tach_tls_certs_locked "$dir" "$san"
    fi
}

tach_tls_certs_locked() {
    local dir=$1 san=$2 work file status=0
    tach_tls_certs_current "$dir" "$san" && return 0
    tach_say "generating a test CA and certificates in $dir (server subjectAltName $san)"
    work=$(mktemp -d "$dir/.new.XXXXXX") || tach_fail "cannot create a directory in $dir" || return 1
    # Keys are born 0600; certificates are opened up afterwards.
    (umask 077 && tach_tls_generate "$work" "$san") || status=1
    if ((status == 0)); then
        chmod 0644 "$work"/*.pem
        while read -r file; do
            mv -f "$work/$file" "$dir/$file" || status=1
        done < <(tach_tls_files)
        printf 'layout=%s san=%s\n' "$TACH_TLS_LAYOUT" "$san" >"$dir/stamp" || status=1
    fi
    rm -rf "$work"
    ((status == 0)) || tach_fail "could not generate the test certificates in $dir (openssl)"
}

# ---------------------------------------------------------------- PostgreSQL

tach_pg_tls_enabled() {
    case $TACH_PRIVATE_PG_TLS in
        off | '') return 1 ;;
        on | required | verify-client) return 0 ;;
        *) tach_fail "TACH_PRIVATE_PG_TLS must be off, on, required or verify-client, not '$TACH_PRIVATE_PG_TLS'"; return 2 ;;
    esac
}

# The addresses the private server listens on (comma-separated).
tach_pg_listen_addresses() {
    if tach_pg_tls_enabled 2>/dev/null && [[ -n $TACH_PRIVATE_PG_TLS_ALIAS ]]; then
        echo "127.0.0.1,$TACH_PRIVATE_PG_TLS_ALIAS"
    else
        echo 127.0.0.1
    fi
}

# The pg_hba.conf of a TLS start: trust throughout (a throwaway test
# server), "hostssl" for TLS clients, and plaintext "host" lines only in mode on.
tach_pg_tls_hba() {
    local mode=$1 option='' net
    [[ $mode == verify-client ]] && option=' clientcert=verify-ca'
    echo "# Written by tach's deploy/lib/tls.sh (private instance, TACH_PRIVATE_PG_TLS=$mode)."
    echo "local all all trust"
    for net in 127.0.0.0/8 ::1/128; do
        echo "hostssl all all $net trust$option"
        echo "hostssl replication all $net trust$option"
    done
    [[ $mode == on ]] || return 0
    for net in 127.0.0.0/8 ::1/128; do
        echo "host all all $net trust"
        echo "host replication all $net trust"
    done
}

# tach_pg_tls_prepare PG_DIR: copies the certificates next to the cluster, owned
# by the user that runs postgres, writes the hba file, and prints the server
# options (for pg_ctl -o). Prints nothing when TLS is off.
tach_pg_tls_prepare() {
    local pg_dir=$1 user tls enabled=0
    tach_pg_tls_enabled || enabled=$?
    ((enabled == 0)) || return $((enabled == 1 ? 0 : 1))
    tach_tls_certs "$TACH_TLS_DIR" || return 1
    user=$(tach_pg_user)
    tls=$pg_dir/tls
    [[ $tls != *"'"* ]] || tach_fail "$tls contains a single quote" || return 1
    local -a owner=()
    [[ $EUID -eq 0 ]] && owner=(-o "$user")
    install -m 0700 "${owner[@]}" -d "$tls" &&
        install -m 0644 "${owner[@]}" "$TACH_TLS_DIR/server.pem" "$tls/server.pem" &&
        install -m 0644 "${owner[@]}" "$TACH_TLS_DIR/ca.pem" "$tls/ca.pem" &&
        install -m 0600 "${owner[@]}" "$TACH_TLS_DIR/server.key" "$tls/server.key" ||
        tach_fail "could not copy the server certificate into $tls" || return 1
    tach_pg_tls_hba "$TACH_PRIVATE_PG_TLS" >"$tls/pg_hba.conf" &&
        chmod 0600 "$tls/pg_hba.conf" && { [[ $EUID -ne 0 ]] || chown "$user" "$tls/pg_hba.conf"; } ||
        tach_fail "could not write $tls/pg_hba.conf" || return 1
    printf "%s " "-c ssl=on" "-c 'ssl_cert_file=$tls/server.pem'" "-c 'ssl_key_file=$tls/server.key'" \
        "-c 'ssl_ca_file=$tls/ca.pem'" "-c 'hba_file=$tls/pg_hba.conf'"
}

# True when the private server on PORT speaks TLS with the test CA's
# certificate (a psql round trip, verify-full against localhost).
tach_pg_tls_check() {
    local port=$1 bindir=${2:-} psql=psql answer
    [[ -x $bindir/psql ]] && psql=$bindir/psql
    local conninfo="host=localhost hostaddr=127.0.0.1 port=$port user=postgres dbname=postgres"
    conninfo+=" sslmode=verify-full sslrootcert=$TACH_TLS_DIR/ca.pem connect_timeout=5"
    [[ $TACH_PRIVATE_PG_TLS == verify-client ]] &&
        conninfo+=" sslcert=$TACH_TLS_DIR/client.pem sslkey=$TACH_TLS_DIR/client.key"
    answer=$(env -u PGSSLMODE -u PGSSLROOTCERT -u PGSSLCERT -u PGSSLKEY \
        "$psql" "$conninfo" -XAtqc 'select ssl from pg_stat_ssl where pid = pg_backend_pid()' 2>&1)
    [[ $answer == t ]] ||
        tach_fail "the private PostgreSQL on 127.0.0.1:$port does not accept TLS with $TACH_TLS_DIR/ca.pem (TACH_PRIVATE_PG_TLS=$TACH_PRIVATE_PG_TLS; a server started without it must be stopped first): $answer"
}

# ---------------------------------------------------------------- RabbitMQ

tach_amqp_tls_enabled() {
    case $TACH_PRIVATE_AMQP_TLS in
        off | '') return 1 ;;
        on | verify-client) return 0 ;;
        *) tach_fail "TACH_PRIVATE_AMQP_TLS must be off, on or verify-client, not '$TACH_PRIVATE_AMQP_TLS'"; return 2 ;;
    esac
}

# The rabbitmq.conf lines of the TLS listener; nothing when TLS is off.
tach_rabbit_tls_conf() {
    local fail_if_no_peer_cert=false enabled=0
    tach_amqp_tls_enabled || enabled=$?
    ((enabled == 0)) || return $((enabled == 1 ? 0 : 1))
    tach_tls_certs "$TACH_TLS_DIR" || return 1
    [[ $TACH_PRIVATE_AMQP_TLS == verify-client ]] && fail_if_no_peer_cert=true
    cat <<EOF
# TLS listener (TACH_PRIVATE_AMQP_TLS=$TACH_PRIVATE_AMQP_TLS), certificates from $TACH_TLS_DIR.
listeners.ssl.default = 127.0.0.1:$TACH_PRIVATE_AMQPS_PORT
ssl_options.cacertfile = $TACH_TLS_DIR/ca.pem
ssl_options.certfile = $TACH_TLS_DIR/server.pem
ssl_options.keyfile = $TACH_TLS_DIR/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = $fail_if_no_peer_cert
EOF
}

# True when a TLS handshake with 127.0.0.1:PORT verifies against the test CA
# and the name localhost.
tach_amqp_tls_check() {
    local port=$1 answer
    local -a client=()
    [[ $TACH_PRIVATE_AMQP_TLS == verify-client ]] &&
        client=(-cert "$TACH_TLS_DIR/client.pem" -key "$TACH_TLS_DIR/client.key")
    if answer=$(timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost \
        -verify_hostname localhost -CAfile "$TACH_TLS_DIR/ca.pem" -verify_return_error \
        "${client[@]}" </dev/null 2>&1) && [[ $answer == *"Verify return code: 0 (ok)"* ]]; then
        return 0
    fi
    tach_fail "no TLS handshake verified by $TACH_TLS_DIR/ca.pem on 127.0.0.1:$port (TACH_PRIVATE_AMQP_TLS=$TACH_PRIVATE_AMQP_TLS; a node started without it must be stopped first): $(printf '%s' "$answer" | grep -m1 -iE 'error|verify return' || true)"
}
