/*
 * test_ticket.c - the ticket model: the JSON contract of DESIGN.md, every
 * rejection by its exact text (as esc_error_format writes it), the limits,
 * and large inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "escalator.h"
#include "ticket.h"
#include "util.h"

static const char full_ticket[] =
    "{\n"
    "  \"id\": \"T-1001\",\n"
    "  \"channel\": \"chat\",\n"
    "  \"subject\": \"Port-in keeps failing\",\n"
    "  \"created_at\": \"2026-11-20T10:00:00Z\",\n"
    "  \"status\": \"escalated\",\n"
    "  \"level\": \"l1\",\n"
    "  \"customer\": {\"id\": \"C-7\", \"email\": \"a@example.com\", "
    "\"name\": \"Ana\",\n"
    "               \"tier\": \"standard\", \"flags\": [\"vip\", "
    "\"influencer\"], \"since\": \"2024-01-01\"},\n"
    "  \"messages\": [\n"
    "    {\"from\": \"customer\", \"at\": \"2026-11-20T10:00:00Z\", "
    "\"text\": \"My number won't port \\u2014 4th time!\"},\n"
    "    {\"from\": \"agent\", \"at\": \"2026-11-20T10:05:30+01:00\", "
    "\"text\": \"Checking.\"},\n"
    "    {\"from\": \"bot\", \"text\": \"\"},\n"
    "    {\"from\": \"system\", \"at\": null, \"text\": \"caf\xc3\xa9\"}\n"
    "  ],\n"
    "  \"troubleshooting\": [{\"step\": \"Verified PIN\", \"result\": "
    "\"correct\"}, {\"step\": \"Rebooted\"}],\n"
    "  \"fields\": {\"issue_type\": \"port_in\", \"port_in_rejections\": 4}\n"
    "}\n";

static esc_ticket *parse_ok_n(const char *json, size_t len)
{
    esc_ticket *t = NULL;
    esc_error e;
    int rc = esc_ticket_parse(json, len, "t.json", &t, &e);
    if (rc != 0) {
        char buf[1200];
        esc_error_format(&e, buf, sizeof buf);
        fail_msg("rejected (%d): %s", rc, buf);
    }
    assert_non_null(t);
    return t;
}

static esc_ticket *parse_ok(const char *json)
{
    return parse_ok_n(json, strlen(json));
}

/* Parses json[0..len) under the name "t.json" and checks the code and the
 * formatted error. */
static void expect_error_n(const char *json, size_t len, int code,
                           const char *expected)
{
    esc_ticket *t = (esc_ticket *)(uintptr_t)1;
    esc_error e;
    char buf[1200];
    int rc = esc_ticket_parse(json, len, "t.json", &t, &e);
    esc_error_format(&e, buf, sizeof buf);
    if (rc != code)
        fail_msg("expected code %d, got %d (%s)", code, rc, buf);
    assert_null(t);
    assert_string_equal(buf, expected);
}

static void expect_error(const char *json, int code, const char *expected)
{
    expect_error_n(json, strlen(json), code, expected);
}

#define expect_ticket_error(json, expected) \
    expect_error((json), ESC_ETICKET, (expected))

/* ---- accepted tickets ---------------------------------------------------- */

static void test_full_ticket(void **state)
{
    (void)state;
    esc_ticket *t = parse_ok(full_ticket);

    assert_string_equal(esc_ticket_id(t), "T-1001");
    assert_int_equal(t->channel, ESC__CH_CHAT);
    assert_true(t->has_channel);
    assert_string_equal(t->subject, "Port-in keeps failing");
    assert_int_equal(t->created_at, 1795168800);
    assert_int_equal(t->status, ESC__ST_ESCALATED);
    assert_string_equal(t->level, "l1");

    assert_string_equal(t->customer.id, "C-7");
    assert_string_equal(t->customer.email, "a@example.com");
    assert_string_equal(t->customer.name, "Ana");
    assert_string_equal(t->customer.tier, "standard");
    assert_int_equal(t->customer.since, 1704067200);
    assert_int_equal(t->customer.n_flags, 2);
    assert_string_equal(t->customer.flags[0], "vip");
    assert_string_equal(t->customer.flags[1], "influencer");

    assert_int_equal(t->n_messages, 4);
    assert_int_equal(t->messages[0].from, ESC__FROM_CUSTOMER);
    assert_int_equal(t->messages[0].at, 1795168800);
    assert_string_equal(t->messages[0].text,
                        "My number won't port \xe2\x80\x94 4th time!");
    assert_int_equal(t->messages[0].len, strlen(t->messages[0].text));
    assert_int_equal(t->messages[0].index, 0);
    assert_int_equal(t->messages[1].from, ESC__FROM_AGENT);
    assert_int_equal(t->messages[1].at, 1795168800 + 330 - 3600);
    assert_int_equal(t->messages[2].from, ESC__FROM_BOT);
    assert_int_equal(t->messages[2].at, ESC__NO_TIME);
    assert_string_equal(t->messages[2].text, "");
    assert_int_equal(t->messages[2].len, 0);
    assert_int_equal(t->messages[3].from, ESC__FROM_SYSTEM);
    assert_int_equal(t->messages[3].at, ESC__NO_TIME);
    assert_string_equal(t->messages[3].text, "caf\xc3\xa9");
    assert_int_equal(t->messages[3].len, 5);
    assert_int_equal(t->messages[3].index, 3);

    assert_int_equal(t->n_steps, 2);
    assert_string_equal(t->steps[0].step, "Verified PIN");
    assert_string_equal(t->steps[0].result, "correct");
    assert_string_equal(t->steps[1].step, "Rebooted");
    assert_string_equal(t->steps[1].result, "");

    assert_true(json_is_object(t->fields));
    assert_int_equal(json_object_size(t->fields), 2);
    assert_string_equal(
        json_string_value(json_object_get(t->fields, "issue_type")),
        "port_in");
    assert_int_equal(
        json_integer_value(json_object_get(t->fields, "port_in_rejections")),
        4);

    esc_ticket_free(&t);
    assert_null(t);
}

static void test_minimal_ticket_defaults(void **state)
{
    (void)state;
    esc_ticket *t = parse_ok("{\"id\":\"T-1\"}");
    assert_string_equal(esc_ticket_id(t), "T-1");
    assert_int_equal(t->channel, ESC__CH_WEB);
    assert_false(t->has_channel);
    assert_string_equal(t->subject, "");
    assert_int_equal(t->created_at, ESC__NO_TIME);
    assert_int_equal(t->status, ESC__ST_OPEN);
    assert_null(t->level);
    assert_null(t->customer.id);
    assert_null(t->customer.email);
    assert_null(t->customer.name);
    assert_null(t->customer.tier);
    assert_int_equal(t->customer.since, ESC__NO_TIME);
    assert_int_equal(t->customer.n_flags, 0);
    assert_int_equal(t->n_messages, 0);
    assert_int_equal(t->n_steps, 0);
    assert_non_null(t->fields);
    assert_true(json_is_object(t->fields));
    assert_int_equal(json_object_size(t->fields), 0);
    esc_ticket_free(&t);
}

/* Optional members that are null read as absent; unknown members anywhere
 * are ignored, so newer producers do not break older readers. */
static void test_nulls_and_unknown_keys(void **state)
{
    (void)state;
    esc_ticket *t = parse_ok(
        "{\"id\":\"T-2\",\"channel\":null,\"subject\":null,\"created_at\":null,"
        "\"status\":null,\"level\":null,\"customer\":null,\"messages\":null,"
        "\"troubleshooting\":null,\"fields\":null,"
        "\"priority_hint\":{\"x\":[1,2,\"\\u0000\"]},\"assignee\":7}");
    assert_int_equal(t->channel, ESC__CH_WEB);
    assert_false(t->has_channel);
    assert_string_equal(t->subject, "");
    assert_int_equal(t->status, ESC__ST_OPEN);
    assert_int_equal(t->n_messages, 0);
    assert_true(json_is_object(t->fields));
    esc_ticket_free(&t);

    t = parse_ok("{\"id\":\"T-3\",\"customer\":{\"flags\":[],\"ltv\":9,"
                 "\"since\":\"2024-01-01T08:00:00+02:00\"},"
                 "\"messages\":[{\"from\":\"customer\",\"text\":\"hi\","
                 "\"lang\":\"en\",\"attachments\":[]}],"
                 "\"troubleshooting\":[],\"fields\":{}}");
    assert_int_equal(t->customer.n_flags, 0);
    assert_int_equal(t->customer.since, 1704088800);
    assert_int_equal(t->n_messages, 1);
    assert_int_equal(t->n_steps, 0);
    esc_ticket_free(&t);

    t = parse_ok("{\"id\":\"T-4\",\"messages\":[]}");
    assert_int_equal(t->n_messages, 0);
    assert_null(t->messages);
    esc_ticket_free(&t);
}

static void test_all_enum_values(void **state)
{
    (void)state;
    for (int c = 0; c < ESC__CH_COUNT; c++) {
        char json[128];
        snprintf(json, sizeof json, "{\"id\":\"x\",\"channel\":\"%s\"}",
                 esc__channel_name((esc__channel)c));
        esc_ticket *t = parse_ok(json);
        assert_int_equal(t->channel, c);
        assert_true(t->has_channel);
        esc_ticket_free(&t);
        assert_int_equal(esc__channel_from_name(esc__channel_name(c)), c);
    }
    for (int s = 0; s < ESC__ST_COUNT; s++) {
        char json[128];
        snprintf(json, sizeof json, "{\"id\":\"x\",\"status\":\"%s\"}",
                 esc__status_name((esc__status)s));
        esc_ticket *t = parse_ok(json);
        assert_int_equal(t->status, s);
        esc_ticket_free(&t);
        assert_int_equal(esc__status_from_name(esc__status_name(s)), s);
    }
    assert_string_equal(esc__from_name(ESC__FROM_CUSTOMER), "customer");
    assert_string_equal(esc__from_name(ESC__FROM_AGENT), "agent");
    assert_string_equal(esc__from_name(ESC__FROM_BOT), "bot");
    assert_string_equal(esc__from_name(ESC__FROM_SYSTEM), "system");
    assert_int_equal(esc__from_from_name("system"), ESC__FROM_SYSTEM);
    assert_int_equal(esc__from_from_name("robot"), -1);
    assert_int_equal(esc__from_from_name(NULL), -1);
    assert_int_equal(esc__channel_from_name("Chat"), -1);
    assert_int_equal(esc__status_from_name(""), -1);
    assert_string_equal(esc__channel_name(ESC__CH_COUNT), "unknown");
    assert_string_equal(esc__status_name((esc__status)-1), "unknown");
    assert_string_equal(esc__from_name((esc__from)4), "unknown");
}

static void test_api_edges(void **state)
{
    (void)state;
    esc_ticket *t = NULL;
    esc_error e;

    esc_ticket_free(NULL);
    esc_ticket_free(&t);
    assert_null(esc_ticket_id(NULL));

    /* err may be NULL */
    assert_int_equal(esc_ticket_parse("[]", 2, "x", &t, NULL), ESC_ETICKET);
    assert_null(t);
    assert_int_equal(esc_ticket_parse("{", 1, NULL, &t, NULL), ESC_ETICKET);
    assert_int_equal(esc_ticket_parse("{\"id\":\"a\"}", 10, NULL, &t, NULL),
                     0);
    esc_ticket_free(&t);

    /* no name: the message starts with the place */
    assert_int_equal(esc_ticket_parse("{}", 2, NULL, &t, &e), ESC_ETICKET);
    char buf[600];
    esc_error_format(&e, buf, sizeof buf);
    assert_string_equal(buf, "/id: required string is missing");

    assert_int_equal(esc_ticket_parse("{}", 2, "x", NULL, &e), ESC_EINVAL);
    assert_int_equal(esc_ticket_parse(NULL, 5, "x", &t, &e), ESC_EINVAL);
    assert_null(t);
    expect_error_n(NULL, 0, ESC_ETICKET,
                   "t.json:1:1: invalid JSON: the input is empty");

    /* the input need not be NUL-terminated: only len bytes are read */
    const char text[] = "{\"id\":\"T-9\"}GARBAGE";
    t = parse_ok_n(text, 12);
    assert_string_equal(esc_ticket_id(t), "T-9");
    esc_ticket_free(&t);
}

/* ---- JSON syntax: line and column ---------------------------------------- */

static void test_syntax_errors(void **state)
{
    (void)state;
    expect_ticket_error("", "t.json:1:1: invalid JSON: the input is empty");
    expect_ticket_error(" \n ", "t.json:2:1: invalid JSON: the input is empty");
    expect_ticket_error("{\"id\": \"T-1\"",
                        "t.json:1:12: invalid JSON: '}' expected near end "
                        "of file");
    expect_ticket_error("{\"id\": \"T-1\",\n \"channel\": chat}",
                        "t.json:2:16: invalid JSON: invalid token near "
                        "'chat'");
    expect_ticket_error("{\"id\": \"T-1\"} {}",
                        "t.json:1:15: invalid JSON: end of file expected "
                        "near '{'");
    expect_ticket_error("{\"id\": \"T-1\",\n\"id\": \"T-2\"}",
                        "t.json:2:4: invalid JSON: duplicate object key near "
                        "'\"id\"'");
    expect_ticket_error("{\"id\": \"T-1\", \"fields\": {\"n\": "
                        "123456789012345678901234567890}}",
                        "t.json:1:60: invalid JSON: too big integer");
    expect_ticket_error("{\"id\": \"\\u0000x\", \"\\u0000\": 1}",
                        "t.json:1:26: invalid JSON: NUL byte in object key "
                        "not supported near '\"\\u0000\"'");
    /* the column and offset are those of the offending byte */
    expect_ticket_error("{\"id\": \"a\tb\"}",
                        "t.json:1:10: invalid JSON: control character 0x09 "
                        "in a string must be escaped (byte offset 9)");
    expect_ticket_error("{\"id\":\n\"\x7f\x1f\"}",
                        "t.json:2:3: invalid JSON: control character 0x1f "
                        "in a string must be escaped (byte offset 9)");
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    expect_ticket_error("{\"id\": \"T-1\",\n \"subject\": \"caf\xc3\xa9 \xff\"}",
                        "t.json:2:19: invalid JSON: invalid UTF-8 byte 0xff "
                        "at byte offset 33");
    expect_ticket_error("{\"id\": \"\xc0\xaf\"}",
                        "t.json:1:9: invalid JSON: invalid UTF-8 byte 0xc0 "
                        "at byte offset 8");
    /* a truncated sequence is reported at its first byte */
    expect_ticket_error("{\"id\": \"T-\xe2\x82\"}",
                        "t.json:1:11: invalid JSON: invalid UTF-8 byte 0xe2 "
                        "at byte offset 10");
    expect_ticket_error("\xff",
                        "t.json:1:1: invalid JSON: invalid UTF-8 byte 0xff "
                        "at byte offset 0");
}

/* A UTF-8 byte order mark is skipped, and counted in positions. */
static void test_byte_order_mark(void **state)
{
    (void)state;
    esc_ticket *t = parse_ok("\xef\xbb\xbf{\"id\": \"T-1\"}");
    assert_string_equal(esc_ticket_id(t), "T-1");
    esc_ticket_free(&t);
    expect_ticket_error("\xef\xbb\xbf{\"id\": \"a\tb\"}",
                        "t.json:1:11: invalid JSON: control character 0x09 "
                        "in a string must be escaped (byte offset 12)");
    expect_ticket_error("\xef\xbb\xbf{\"id\": 1}",
                        "t.json: /id: expected a string, found a number");
    expect_ticket_error("\xef\xbb\xbf",
                        "t.json:1:2: invalid JSON: the input is empty");
}

static void test_raw_nul_byte(void **state)
{
    (void)state;
    static const char after[] = "{\"id\": \"T-1\"}\0";
    expect_error_n(after, sizeof after - 1, ESC_ETICKET,
                   "t.json:1:14: invalid JSON: NUL byte at byte offset 13");
    static const char inside[] = "{\"id\":\n \"T\0-1\"}";
    expect_error_n(inside, sizeof inside - 1, ESC_ETICKET,
                   "t.json:2:4: invalid JSON: NUL byte at byte offset 10");
    static const char bom[] = "\xef\xbb\xbf{\"id\": \"T\0-1\"}";
    expect_error_n(bom, sizeof bom - 1, ESC_ETICKET,
                   "t.json:1:11: invalid JSON: NUL byte at byte offset 12");
}

/* ---- structure: JSON pointers -------------------------------------------- */

static void test_top_level(void **state)
{
    (void)state;
    expect_ticket_error("[]",
                        "t.json: expected a ticket object, found an array");
    expect_ticket_error("\"T-1\"",
                        "t.json: expected a ticket object, found a string");
    expect_ticket_error("null", "t.json: expected a ticket object, found null");
    expect_ticket_error("42", "t.json: expected a ticket object, found a number");
}

static void test_id(void **state)
{
    (void)state;
    expect_ticket_error("{}", "t.json: /id: required string is missing");
    expect_ticket_error("{\"subject\":\"x\"}",
                        "t.json: /id: required string is missing");
    expect_ticket_error("{\"id\":1001}",
                        "t.json: /id: expected a string, found a number");
    expect_ticket_error("{\"id\":null}",
                        "t.json: /id: expected a string, found null");
    expect_ticket_error("{\"id\":\"\"}",
                        "t.json: /id: expected a non-empty string, found \"\"");
    expect_ticket_error("{\"id\":\"T\\u00001\"}",
                        "t.json: /id: string contains a NUL character "
                        "(\\u0000), which is not supported");
}

static void test_top_level_members(void **state)
{
    (void)state;
    expect_ticket_error(
        "{\"id\":\"T-1\",\"channel\":\"fax\"}",
        "t.json: /channel: unknown channel \"fax\" (expected chat, email, "
        "phone, web, bot or social)");
    expect_ticket_error(
        "{\"id\":\"T-1\",\"channel\":\"Chat\"}",
        "t.json: /channel: unknown channel \"Chat\" (expected chat, email, "
        "phone, web, bot or social)");
    expect_ticket_error("{\"id\":\"T-1\",\"channel\":3}",
                        "t.json: /channel: expected a string, found a number");
    expect_ticket_error(
        "{\"id\":\"T-1\",\"status\":\"reopened\"}",
        "t.json: /status: unknown status \"reopened\" (expected new, open, "
        "pending, escalated, resolved or closed)");
    expect_ticket_error("{\"id\":\"T-1\",\"status\":true}",
                        "t.json: /status: expected a string, found true");
    expect_ticket_error("{\"id\":\"T-1\",\"subject\":[\"a\"]}",
                        "t.json: /subject: expected a string, found an array");
    expect_ticket_error("{\"id\":\"T-1\",\"level\":2}",
                        "t.json: /level: expected a string, found a number");
    expect_ticket_error(
        "{\"id\":\"T-1\",\"created_at\":\"2026-13-01\"}",
        "t.json: /created_at: invalid timestamp \"2026-13-01\" (expected RFC "
        "3339, e.g. 2026-11-20T10:00:00Z)");
    expect_ticket_error(
        "{\"id\":\"T-1\",\"created_at\":\"2026-11-20\"}",
        "t.json: /created_at: invalid timestamp \"2026-11-20\" (expected RFC "
        "3339, e.g. 2026-11-20T10:00:00Z)");
    expect_ticket_error(
        "{\"id\":\"T-1\",\"created_at\":1795168800}",
        "t.json: /created_at: expected a string, found a number");
}

static void test_quoted_values(void **state)
{
    (void)state;
    /* quotes and control characters are escaped in the message */
    expect_ticket_error(
        "{\"id\":\"T-1\",\"status\":\"say \\\"hi\\\"\\n\"}",
        "t.json: /status: unknown status \"say \\\"hi\\\"\\n\" (expected new, "
        "open, pending, escalated, resolved or closed)");
    /* long values are cut after 64 bytes, on a character boundary */
    expect_ticket_error(
        "{\"id\":\"T-1\",\"channel\":\"" /* 63 x, then a 2-byte character */
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "\xc3\xa9yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\"}",
        "t.json: /channel: unknown channel "
        "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\" "
        "(expected chat, email, phone, web, bot or social)");
}

static void test_messages(void **state)
{
    (void)state;
    expect_ticket_error("{\"id\":\"T-1\",\"messages\":{}}",
                        "t.json: /messages: expected an array, found an object");
    expect_ticket_error("{\"id\":\"T-1\",\"messages\":[\"hello\"]}",
                        "t.json: /messages/0: expected an object, found a "
                        "string");
    expect_ticket_error(
        "{\"id\":\"T-1\",\"messages\":["
        "{\"from\":\"customer\",\"text\":\"a\"},"
        "{\"from\":\"agent\",\"text\":\"b\"},"
        "{\"from\":\"bot\",\"text\":\"c\"},"
        "{\"from\":\"robot\",\"text\":\"d\"}]}",
        "t.json: /messages/3/from: unknown sender \"robot\" (expected "
        "customer, agent, bot or system)");
    expect_ticket_error("{\"id\":\"T-1\",\"messages\":[{\"text\":\"hi\"}]}",
                        "t.json: /messages/0/from: required string is missing");
    expect_ticket_error(
        "{\"id\":\"T-1\",\"messages\":[{\"from\":null,\"text\":\"hi\"}]}",
        "t.json: /messages/0/from: expected a string, found null");
    expect_ticket_error(
        "{\"id\":\"T-1\",\"messages\":[{\"from\":\"customer\"}]}",
        "t.json: /messages/0/text: required string is missing");
    expect_ticket_error(
        "{\"id\":\"T-1\",\"messages\":[{\"from\":\"customer\",\"text\":5}]}",
        "t.json: /messages/0/text: expected a string, found a number");
    expect_ticket_error(
        "{\"id\":\"T-1\",\"messages\":[{\"from\":\"customer\","
        "\"text\":\"before\\u0000after\"}]}",
        "t.json: /messages/0/text: string contains a NUL character "
        "(\\u0000), which is not supported");
    expect_ticket_error(
        "{\"id\":\"T-1\",\"messages\":[{\"from\":\"customer\",\"text\":\"a\","
        "\"at\":\"2026-13-01\"}]}",
        "t.json: /messages/0/at: invalid timestamp \"2026-13-01\" (expected "
        "RFC 3339, e.g. 2026-11-20T10:00:00Z)");
    expect_ticket_error(
        "{\"id\":\"T-1\",\"messages\":[{\"from\":\"customer\",\"text\":\"a\","
        "\"at\":\"2026-02-29T10:00:00Z\"}]}",
        "t.json: /messages/0/at: invalid timestamp \"2026-02-29T10:00:00Z\" "
        "(expected RFC 3339, e.g. 2026-11-20T10:00:00Z)");
}

static void test_troubleshooting(void **state)
{
    (void)state;
    expect_ticket_error(
        "{\"id\":\"T-1\",\"troubleshooting\":\"rebooted\"}",
        "t.json: /troubleshooting: expected an array, found a string");
    expect_ticket_error(
        "{\"id\":\"T-1\",\"troubleshooting\":[{\"step\":\"a\"},7]}",
        "t.json: /troubleshooting/1: expected an object, found a number");
    expect_ticket_error(
        "{\"id\":\"T-1\",\"troubleshooting\":[{\"result\":\"ok\"}]}",
        "t.json: /troubleshooting/0/step: required string is missing");
    expect_ticket_error(
        "{\"id\":\"T-1\",\"troubleshooting\":[{\"step\":\"a\",\"result\":false}]}",
        "t.json: /troubleshooting/0/result: expected a string, found false");
}

static void test_customer(void **state)
{
    (void)state;
    expect_ticket_error("{\"id\":\"T-1\",\"customer\":\"C-7\"}",
                        "t.json: /customer: expected an object, found a string");
    expect_ticket_error(
        "{\"id\":\"T-1\",\"customer\":{\"email\":[\"a@example.com\"]}}",
        "t.json: /customer/email: expected a string, found an array");
    expect_ticket_error(
        "{\"id\":\"T-1\",\"customer\":{\"flags\":\"vip\"}}",
        "t.json: /customer/flags: expected an array, found a string");
    expect_ticket_error(
        "{\"id\":\"T-1\",\"customer\":{\"flags\":[\"vip\",\"x\",{}]}}",
        "t.json: /customer/flags/2: expected a string, found an object");
    expect_ticket_error(
        "{\"id\":\"T-1\",\"customer\":{\"flags\":[\"v\\u0000ip\"]}}",
        "t.json: /customer/flags/0: string contains a NUL character "
        "(\\u0000), which is not supported");
    expect_ticket_error(
        "{\"id\":\"T-1\",\"customer\":{\"since\":\"2024-02-30\"}}",
        "t.json: /customer/since: invalid date \"2024-02-30\" (expected RFC "
        "3339, e.g. 2024-01-01 or 2024-01-01T00:00:00Z)");
    expect_ticket_error(
        "{\"id\":\"T-1\",\"customer\":{\"since\":\"yesterday\"}}",
        "t.json: /customer/since: invalid date \"yesterday\" (expected RFC "
        "3339, e.g. 2024-01-01 or 2024-01-01T00:00:00Z)");
}

static void test_fields(void **state)
{
    (void)state;
    /* values of any type are accepted here; the policy checks them */
    esc_ticket *t = parse_ok(
        "{\"id\":\"T-1\",\"fields\":{\"refund_amount\":\"lots\","
        "\"identity_verified\":true,\"affected_customers\":12.5,"
        "\"external_ticket\":null,\"nested\":{\"a\":[1,\"b\"]}}}");
    assert_int_equal(json_object_size(t->fields), 5);
    assert_true(json_is_string(json_object_get(t->fields, "refund_amount")));
    esc_ticket_free(&t);

    expect_ticket_error("{\"id\":\"T-1\",\"fields\":[]}",
                        "t.json: /fields: expected an object, found an array");
    expect_ticket_error("{\"id\":\"T-1\",\"fields\":\"issue_type=x\"}",
                        "t.json: /fields: expected an object, found a string");
    /* pointer tokens escape '/' and '~' (RFC 6901) */
    expect_ticket_error(
        "{\"id\":\"T-1\",\"fields\":{\"ok\":\"x\",\"a/b~c\":[1,\"x\\u0000\"]}}",
        "t.json: /fields/a~1b~0c/1: string contains a NUL character "
        "(\\u0000), which is not supported");
}

/* ---- limits and size ----------------------------------------------------- */

static void test_limit_bytes(void **state)
{
    (void)state;
    size_t len = (size_t)ESC_TICKET_MAX_BYTES + 1;
    char *big = calloc(len, 1);
    assert_non_null(big);
    expect_error_n(big, len, ESC_ELIMIT,
                   "t.json: ticket is 67108865 bytes, more than the limit of "
                   "67108864 bytes");
    free(big);
}

static char *repeat_json(const char *head, const char *item, size_t n,
                         const char *tail)
{
    esc__sb sb;
    esc__sb_init(&sb);
    esc__sb_puts(&sb, head);
    for (size_t i = 0; i < n; i++) {
        if (i)
            esc__sb_putc(&sb, ',');
        esc__sb_puts(&sb, item);
    }
    esc__sb_puts(&sb, tail);
    assert_false(sb.failed);
    return esc__sb_take(&sb, NULL);
}

static void test_limit_messages(void **state)
{
    (void)state;
    char *json = repeat_json("{\"id\":\"T-1\",\"messages\":[", "0",
                             (size_t)ESC_TICKET_MAX_MESSAGES + 1, "]}");
    expect_error(json, ESC_ELIMIT,
                 "t.json: /messages: too many messages: 1000001 (the limit is "
                 "1000000)");
    free(json);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) +
           (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Generous bounds: they catch quadratic behaviour, not slow machines or
 * sanitizer builds. */
static void test_large_message(void **state)
{
    (void)state;
    const size_t text_len = 10u * 1000u * 1000u;
    esc__sb sb;
    esc__sb_init(&sb);
    esc__sb_puts(&sb, "{\"id\":\"T-big\",\"messages\":[{\"from\":\"customer\","
                      "\"text\":\"");
    for (size_t i = 0; i < text_len / 10; i++)
        esc__sb_put(&sb, "refund me ", 10);
    esc__sb_puts(&sb, "\"}]}");
    size_t len = 0;
    char *json = esc__sb_take(&sb, &len);

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    esc_ticket *t = parse_ok_n(json, len);
    double took = seconds_since(&t0);
    assert_int_equal(t->n_messages, 1);
    assert_int_equal(t->messages[0].len, text_len);
    assert_int_equal(strlen(t->messages[0].text), text_len);
    assert_true(took < 10.0);
    esc_ticket_free(&t);
    free(json);
}

static void test_many_messages(void **state)
{
    (void)state;
    const size_t n = 100000;
    char *json = repeat_json(
        "{\"id\":\"T-many\",\"messages\":[",
        "{\"from\":\"customer\",\"at\":\"2026-11-20T10:00:00Z\",\"text\":"
        "\"still waiting for my refund\"}",
        n, "]}");

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    esc_ticket *t = parse_ok(json);
    double took = seconds_since(&t0);
    assert_int_equal(t->n_messages, n);
    assert_int_equal(t->messages[n - 1].index, n - 1);
    assert_int_equal(t->messages[n - 1].at, 1795168800);
    assert_string_equal(t->messages[n - 1].text, "still waiting for my refund");
    assert_true(took < 10.0);
    esc_ticket_free(&t);
    free(json);
}

/* Deeply nested input is refused by jansson's depth limit, not by the
 * stack. */
static void test_deep_nesting(void **state)
{
    (void)state;
    const size_t depth = 100000;
    char *json = esc__xmalloc(2 * depth + 64);
    size_t n = (size_t)sprintf(json, "{\"id\":\"T-1\",\"fields\":{\"x\":");
    memset(json + n, '[', depth);
    n += depth;
    memset(json + n, ']', depth);
    n += depth;
    memcpy(json + n, "}}", 2);
    n += 2;
    esc_ticket *t = NULL;
    esc_error e;
    assert_int_equal(esc_ticket_parse(json, n, "t.json", &t, &e), ESC_ETICKET);
    assert_null(t);
    assert_int_equal(e.line, 1);
    assert_string_equal(e.message,
                        "invalid JSON: maximum parsing depth reached near '['");
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_ticket),
        cmocka_unit_test(test_minimal_ticket_defaults),
        cmocka_unit_test(test_nulls_and_unknown_keys),
        cmocka_unit_test(test_all_enum_values),
        cmocka_unit_test(test_api_edges),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_byte_order_mark),
        cmocka_unit_test(test_raw_nul_byte),
        cmocka_unit_test(test_top_level),
        cmocka_unit_test(test_id),
        cmocka_unit_test(test_top_level_members),
        cmocka_unit_test(test_quoted_values),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_troubleshooting),
        cmocka_unit_test(test_customer),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_limit_bytes),
        cmocka_unit_test(test_limit_messages),
        cmocka_unit_test(test_large_message),
        cmocka_unit_test(test_many_messages),
        cmocka_unit_test(test_deep_nesting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
