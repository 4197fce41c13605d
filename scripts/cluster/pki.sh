#!/usr/bin/env bash
# Certificates and kubeconfigs for the local cluster, made once per cluster under $STATE/pki.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PKI="$STATE/pki"
mkdir -p "$PKI"
cd "$PKI"

# cert NAME SUBJECT [SANS]: a key and a certificate signed by the cluster CA ($SIGNER: another CA).
cert() {
  local name=$1 subject=$2 sans=${3:-} signer=${SIGNER:-ca}
  [ -f "$name.crt" ] && return
  openssl genrsa -out "$name.key" 2048 2>/dev/null
  openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr" 2>/dev/null
  local ext="$name.ext"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [ -n "$sans" ]; then echo "extendedKeyUsage=serverAuth,clientAuth"; echo "subjectAltName=$sans"
    else echo "extendedKeyUsage=clientAuth"; fi
  } >"$ext"
  openssl x509 -req -in "$name.csr" -CA "$signer.crt" -CAkey "$signer.key" -CAcreateserial -days 3650 \
    -extfile "$ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$ext"
}

# kubeconfig NAME CERT: a kubeconfig for one identity.
kubeconfig() {
  local name=$1 id=$2
  cat >"$name.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: pfdev
  cluster:
    server: https://$API_ADDR:6443
    certificate-authority: $PKI/ca.crt
users:
- name: $name
  user:
    client-certificate: $PKI/$id.crt
    client-key: $PKI/$id.key
contexts:
- name: pfdev
  context: {cluster: pfdev, user: $name}
current-context: pfdev
YAML
}

# ca NAME CN: a self-signed CA.
ca() {
  [ -f "$1.crt" ] && return
  openssl genrsa -out "$1.key" 2048 2>/dev/null
  openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 3650 -out "$1.crt" 2>/dev/null
}

ca ca pfdev-ca
# The aggregation layer's own CA: aggregated API servers trust it for the front proxy's requests only.
ca front-proxy-ca pfdev-front-proxy-ca
[ -f sa.key ] || { openssl genrsa -out sa.key 2048 2>/dev/null; openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null; }

cert apiserver "/CN=kube-apiserver" \
  "IP:$API_ADDR,IP:$KUBERNETES_SVC_IP,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
cert admin "/O=system:masters/CN=pfdev-admin"
cert controller-manager "/CN=system:kube-controller-manager"
cert scheduler "/CN=system:kube-scheduler"
cert kube-proxy "/CN=system:kube-proxy"
cert kube-router "/CN=system:kube-router"   # its ClusterRole: addons/kube-router-rbac.yaml
# Each node's kubelet: its own identity (the Node authorizer and NodeRestriction hold it to its node).
for n in $(node_numbers); do
  cert "kubelet-client-$n" "/O=system:nodes/CN=system:node:$(node_name "$n")"
  cert "kubelet-serving-$n" "/CN=$(node_name "$n")" "IP:$(node_addr "$n"),DNS:$(node_name "$n")"
done
SIGNER=front-proxy-ca cert front-proxy-client "/CN=front-proxy-client"

kubeconfig admin admin
kubeconfig controller-manager controller-manager
kubeconfig scheduler scheduler
kubeconfig kube-proxy kube-proxy
kubeconfig kube-router kube-router
for n in $(node_numbers); do kubeconfig "kubelet-$n" "kubelet-client-$n"; done
