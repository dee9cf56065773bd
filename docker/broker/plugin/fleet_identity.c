/*
 * fleet_identity: a Mosquitto 2 plugin (plugin API v5) that binds every MQTT identity to its certificate.
 *
 * Invariants it enforces (see docs/security.md):
 *  1. At CONNECT (MOSQ_EVT_BASIC_AUTH) the username becomes the client certificate's CN, whatever the client
 *     sent, and the client id must be one the CN may use:
 *       - by default exactly the CN (a station's thing name);
 *       - for a CN named in an option `plugin_opt_clientids_<CN> ID...`, only those ids; an id ending in `*`
 *         is a prefix that needs at least one more character (e.g. `monitor-watch-*`).
 *     Anything else is refused with CONNACK "not authorized", before any session takeover can happen.
 *     A client without a certificate, or with no or several CNs, is refused.
 *  2. On every PUBLISH (MOSQ_EVT_MESSAGE) the broker adds the MQTT5 user property `fleet-publisher` (option
 *     `plugin_opt_stamp_property`) = the authenticated CN. A PUBLISH that already carries that property is a
 *     forgery attempt and is refused (PUBACK "not authorized"), so a subscriber sees exactly one, set here.
 *  3. Defence in depth (MOSQ_EVT_ACL_CHECK, MOSQ_EVT_MESSAGE): a client whose id its username may not use gets
 *     no publish or subscribe access, should a configuration ever skip step 1 (see below).
 *  4. AWS IoT Core's per-connection publish limit (MOSQ_EVT_MESSAGE, option `plugin_opt_max_publishes_per_second`,
 *     default 100, 0 = off; https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits):
 *     at most that many PUBLISHes of one connection are accepted in any one-second span (a sliding window over
 *     the accepted ones' times). One over it is dropped, never delivered: it gets PUBACK "not authorized" (0x87),
 *     the only refusal Mosquitto 2.0's plugin API can answer (AWS answers 0x97 "quota exceeded"), and the broker
 *     logs one line per connection and second. (The 128 KB limit is mosquitto.conf's max_packet_size:
 *     DISCONNECT 0x95 "packet too large".)
 *
 * Mosquitto calls basic-auth plugins only when `use_identity_as_username` (and `use_subject_as_username`) are
 * off: with them on it assumes a certificate client authenticated. This plugin therefore replaces
 * `use_identity_as_username true`; the listener must keep `require_certificate true` so the TLS layer has
 * verified the chain before we read the CN. The acl_file then matches the username this plugin set.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <mqtt_protocol.h>

#define CLIENTIDS_PREFIX "clientids_"
#define DEFAULT_STAMP "fleet-publisher"
#define DEFAULT_MAX_PUBLISHES_PER_SECOND 100
#define RATE_BUCKETS 16384
#define NS_PER_SECOND 1000000000LL

struct binding {
	char *common_name;
	char **ids;      /* exact ids, or prefixes when ending in '*' */
	int id_count;
	struct binding *next;
};

struct config {
	struct binding *bindings;
	char *stamp;
	int max_publishes_per_second; /* 0: no limit */
};

/* One connection's accepted PUBLISH times (a ring of max_publishes_per_second entries), keyed by its client
 * pointer; freed at MOSQ_EVT_DISCONNECT. */
struct rate {
	const struct mosquitto *client;
	int64_t *times;
	int next, used;
	int64_t last_refusal_log;
	long refused;
	struct rate *next_in_bucket;
};

static mosquitto_plugin_id_t *plugin_id;
static struct config cfg;
static struct rate *rates[RATE_BUCKETS];

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SECOND + ts.tv_nsec;
}

static size_t rate_bucket(const struct mosquitto *client)
{
	return ((uintptr_t)client >> 4) % RATE_BUCKETS;
}

static struct rate *find_rate(const struct mosquitto *client, bool create)
{
	struct rate *r;
	size_t b = rate_bucket(client);
	for(r = rates[b]; r; r = r->next_in_bucket){
		if(r->client == client) return r;
	}
	if(!create) return NULL;
	r = calloc(1, sizeof(*r));
	if(!r) return NULL;
	r->times = calloc((size_t)cfg.max_publishes_per_second, sizeof(int64_t));
	if(!r->times){ free(r); return NULL; }
	r->client = client;
	r->next_in_bucket = rates[b];
	rates[b] = r;
	return r;
}

static void forget_rate(const struct mosquitto *client)
{
	struct rate **link = &rates[rate_bucket(client)], *r;
	while((r = *link) != NULL){
		if(r->client == client){
			*link = r->next_in_bucket;
			free(r->times);
			free(r);
			return;
		}
		link = &r->next_in_bucket;
	}
}

/* True when this PUBLISH keeps the connection within max_publishes_per_second in every one-second span: the
 * oldest of the last N accepted ones is at least a second old (or fewer than N were accepted). */
static bool within_rate(struct mosquitto *client, const char *who)
{
	struct rate *r;
	int64_t now;
	if(cfg.max_publishes_per_second <= 0) return true;
	r = find_rate(client, true);
	if(!r) return true; /* out of memory: do not refuse a client for the broker's own failure */
	now = now_ns();
	if(r->used == cfg.max_publishes_per_second && now - r->times[r->next] < NS_PER_SECOND){
		r->refused++;
		if(now - r->last_refusal_log >= NS_PER_SECOND){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "fleet_identity: throttled PUBLISH from '%s': over %d publishes "
					"per second on one connection (AWS IoT Core's limit); %ld refused so far", who,
					cfg.max_publishes_per_second, r->refused);
			r->last_refusal_log = now;
		}
		return false;
	}
	r->times[r->next] = now;
	r->next = (r->next + 1) % cfg.max_publishes_per_second;
	if(r->used < cfg.max_publishes_per_second) r->used++;
	return true;
}

static void free_binding(struct binding *b)
{
	int i;
	for(i = 0; i < b->id_count; i++) free(b->ids[i]);
	free(b->ids);
	free(b->common_name);
	free(b);
}

/* Split `value` on spaces/commas into b->ids. */
static int parse_ids(struct binding *b, const char *value)
{
	char *copy = strdup(value), *save = NULL, *tok;
	if(!copy) return MOSQ_ERR_NOMEM;
	for(tok = strtok_r(copy, " ,\t", &save); tok; tok = strtok_r(NULL, " ,\t", &save)){
		char **grown = realloc(b->ids, sizeof(char *) * (size_t)(b->id_count + 1));
		if(!grown){ free(copy); return MOSQ_ERR_NOMEM; }
		b->ids = grown;
		b->ids[b->id_count] = strdup(tok);
		if(!b->ids[b->id_count]){ free(copy); return MOSQ_ERR_NOMEM; }
		b->id_count++;
	}
	free(copy);
	return b->id_count > 0 ? MOSQ_ERR_SUCCESS : MOSQ_ERR_INVAL;
}

static const struct binding *find_binding(const char *cn)
{
	const struct binding *b;
	for(b = cfg.bindings; b; b = b->next){
		if(!strcmp(b->common_name, cn)) return b;
	}
	return NULL;
}

/* True when `client_id` is one the certificate `cn` may connect with. */
static bool id_allowed(const char *cn, const char *client_id)
{
	const struct binding *b = find_binding(cn);
	int i;
	if(!b) return !strcmp(cn, client_id);
	for(i = 0; i < b->id_count; i++){
		const char *id = b->ids[i];
		size_t len = strlen(id);
		if(len > 0 && id[len - 1] == '*'){
			if(strlen(client_id) > len - 1 && !strncmp(id, client_id, len - 1)) return true;
		}else if(!strcmp(id, client_id)){
			return true;
		}
	}
	return false;
}

/* The single CN of the client's certificate as a new string, or NULL (none, several, or not plain text). */
static char *certificate_cn(struct mosquitto *client)
{
	X509 *cert = mosquitto_client_certificate(client);
	X509_NAME *subject;
	int index, length;
	unsigned char *utf8 = NULL;
	char *cn = NULL;

	if(!cert) return NULL;
	subject = X509_get_subject_name(cert);
	index = subject ? X509_NAME_get_index_by_NID(subject, NID_commonName, -1) : -1;
	if(index >= 0 && X509_NAME_get_index_by_NID(subject, NID_commonName, index) < 0){
		length = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)));
		if(length > 0 && (size_t)length == strlen((char *)utf8)){
			cn = strdup((char *)utf8);
		}
		OPENSSL_free(utf8);
	}
	X509_free(cert);
	return cn;
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	const char *client_id = mosquitto_client_id(ed->client);
	const char *address = mosquitto_client_address(ed->client);
	char *cn;
	int rc;
	(void)event; (void)userdata;

	cn = certificate_cn(ed->client);
	if(!cn){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "fleet_identity: refused %s from %s: no single certificate CN",
				client_id ? client_id : "(no id)", address ? address : "?");
		return MOSQ_ERR_AUTH;
	}
	if(!client_id || !id_allowed(cn, client_id)){
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				"fleet_identity: refused client id '%s' for certificate CN '%s' from %s",
				client_id ? client_id : "", cn, address ? address : "?");
		free(cn);
		return MOSQ_ERR_AUTH;
	}
	rc = mosquitto_set_username(ed->client, cn); /* the ACL matches the CN, never a client-sent name */
	free(cn);
	return rc == MOSQ_ERR_SUCCESS ? MOSQ_ERR_SUCCESS : MOSQ_ERR_AUTH;
}

/* The client's username (set by on_basic_auth) may use its client id. */
static bool client_bound(struct mosquitto *client)
{
	const char *username = mosquitto_client_username(client);
	const char *client_id = mosquitto_client_id(client);
	return username && client_id && id_allowed(username, client_id);
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	(void)event; (void)userdata;
	/* Allowed: let the acl_file decide. */
	return client_bound(ed->client) ? MOSQ_ERR_PLUGIN_DEFER : MOSQ_ERR_ACL_DENIED;
}

static bool has_stamp(const mosquitto_property *props)
{
	char *name = NULL, *value = NULL;
	const mosquitto_property *p = props;
	bool skip = false, found = false;

	while((p = mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &name, &value, skip)) != NULL){
		if(name && !strcmp(name, cfg.stamp)) found = true;
		free(name); free(value);
		name = value = NULL;
		skip = true;
		if(found) break;
	}
	return found;
}

static int on_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;
	const char *username = mosquitto_client_username(ed->client);
	(void)event; (void)userdata;

	if(!username || !client_bound(ed->client)) return MOSQ_ERR_ACL_DENIED; /* not after on_basic_auth */
	if(has_stamp(ed->properties)){
		mosquitto_log_printf(MOSQ_LOG_WARNING,
				"fleet_identity: refused PUBLISH from '%s' to '%s': it carries the broker's '%s' property",
				username, ed->topic ? ed->topic : "", cfg.stamp);
		return MOSQ_ERR_ACL_DENIED;
	}
	if(!within_rate(ed->client, username)) return MOSQ_ERR_ACL_DENIED; /* dropped: PUBACK 0x87 */
	return mosquitto_property_add_string_pair(&ed->properties, MQTT_PROP_USER_PROPERTY, cfg.stamp, username);
}

static int on_disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;
	(void)event; (void)userdata;
	forget_rate(ed->client);
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	int i;
	for(i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5) return 5;
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata, struct mosquitto_opt *options,
		int option_count)
{
	int i, rc;
	(void)userdata;

	plugin_id = identifier;
	cfg.bindings = NULL;
	cfg.stamp = NULL;
	cfg.max_publishes_per_second = DEFAULT_MAX_PUBLISHES_PER_SECOND;
	for(i = 0; i < option_count; i++){
		const char *key = options[i].key, *value = options[i].value ? options[i].value : "";
		if(!strncmp(key, CLIENTIDS_PREFIX, strlen(CLIENTIDS_PREFIX)) && key[strlen(CLIENTIDS_PREFIX)]){
			struct binding *b = calloc(1, sizeof(*b));
			if(!b) return MOSQ_ERR_NOMEM;
			b->common_name = strdup(key + strlen(CLIENTIDS_PREFIX));
			if(!b->common_name || parse_ids(b, value) != MOSQ_ERR_SUCCESS){
				mosquitto_log_printf(MOSQ_LOG_ERR, "fleet_identity: plugin_opt_%s needs one or more client ids", key);
				free_binding(b);
				return MOSQ_ERR_INVAL;
			}
			b->next = cfg.bindings;
			cfg.bindings = b;
		}else if(!strcmp(key, "stamp_property")){
			free(cfg.stamp);
			cfg.stamp = strdup(value);
			if(!cfg.stamp) return MOSQ_ERR_NOMEM;
		}else if(!strcmp(key, "max_publishes_per_second")){
			char *end = NULL;
			long n = strtol(value, &end, 10);
			if(!value[0] || *end || n < 0 || n > 1000000){
				mosquitto_log_printf(MOSQ_LOG_ERR, "fleet_identity: plugin_opt_max_publishes_per_second needs a "
						"whole number from 0 (no limit) to 1000000, not '%s'", value);
				return MOSQ_ERR_INVAL;
			}
			cfg.max_publishes_per_second = (int)n;
		}else{
			mosquitto_log_printf(MOSQ_LOG_ERR, "fleet_identity: unknown option plugin_opt_%s", key);
			return MOSQ_ERR_INVAL;
		}
	}
	if(!cfg.stamp || !cfg.stamp[0]){
		free(cfg.stamp);
		cfg.stamp = strdup(DEFAULT_STAMP);
		if(!cfg.stamp) return MOSQ_ERR_NOMEM;
	}
	rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL, NULL);
	if(rc == MOSQ_ERR_SUCCESS){
		rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL);
	}
	if(rc == MOSQ_ERR_SUCCESS){
		rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_MESSAGE, on_message, NULL, NULL);
	}
	if(rc == MOSQ_ERR_SUCCESS){
		rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL, NULL);
	}
	if(rc == MOSQ_ERR_SUCCESS){
		mosquitto_log_printf(MOSQ_LOG_INFO, "fleet_identity: client ids bound to certificate CNs; "
				"publisher stamped as user property '%s'; at most %d publishes per second per connection%s",
				cfg.stamp, cfg.max_publishes_per_second,
				cfg.max_publishes_per_second ? "" : " (0: no limit)");
	}
	return rc;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	int i;
	(void)userdata; (void)options; (void)option_count;
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_MESSAGE, on_message, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL);
	for(i = 0; i < RATE_BUCKETS; i++){
		while(rates[i]){
			struct rate *next = rates[i]->next_in_bucket;
			free(rates[i]->times);
			free(rates[i]);
			rates[i] = next;
		}
	}
	while(cfg.bindings){
		struct binding *next = cfg.bindings->next;
		free_binding(cfg.bindings);
		cfg.bindings = next;
	}
	free(cfg.stamp);
	cfg.stamp = NULL;
	return MOSQ_ERR_SUCCESS;
}
