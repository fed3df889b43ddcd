/* The replica's hash table (src/util/map.h): insert, find and remove, growth
 * under the half-full bound, colliding hashes, removal inside a probe run
 * (backward shift), reserve-then-insert that cannot fail, allocation failure
 * leaving the table unchanged, and the byte hash. */
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#include "map.h"

typedef struct item {
    uint64_t key;
    int value;
} item;

static bool item_eq(const void *it, const void *key)
{
    return ((const item *)it)->key == *(const uint64_t *)key;
}

/* Every stored item is found again, and the table keeps its bounds. */
static void check_table(const cw__map *m, item *items, const bool *present, size_t n,
                        uint64_t (*hash)(uint64_t))
{
    TU_CHECK(m->cap == 0 || (m->cap & (m->cap - 1)) == 0);
    TU_CHECK(m->count * 2 <= m->cap || (m->count == 0 && m->cap == 0));
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        void *found = cw__map_find(m, hash(items[i].key), item_eq, &items[i].key);
        TU_CHECK(found == (present[i] ? &items[i] : NULL));
        count += present[i];
    }
    TU_CHECK(m->count == count);
}

static uint64_t good_hash(uint64_t k) { return cw__hash_u64(k); }
/* Eight distinct hashes for every key: long collision runs. */
static uint64_t bad_hash(uint64_t k) { return k % 8; }

/* A key's hash in a new process (fork) that first fixes the seed, or, with
 * fix false, leaves it to the draw; *took is what each fix returned (bit 0:
 * the first, bit 1: a second one with another seed). */
static uint64_t hash_in_child(bool fix, uint64_t seed, uint64_t *took)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint64_t out[2] = {0, 0};
        if (fix)
            out[1] = cw__hash_key_fix_seed(seed);
        out[0] = cw__hash_key("key", 3);
        if (fix)
            out[1] |= (uint64_t)cw__hash_key_fix_seed(seed + 1) << 1;
        _exit(write(fd[1], out, sizeof out) == (ssize_t)sizeof out ? 0 : 1);
    }
    close(fd[1]); /* a child that dies before writing ends the read */
    uint64_t in[2] = {0, 0};
    assert_int_equal(read(fd[0], in, sizeof in), (ssize_t)sizeof in);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fd[0]);
    *took = in[1];
    return in[0];
}

/* Two processes hash a key differently (each draws its seed), unless each
 * fixes the same seed first, as a fuzz target's replay does; a seed can be
 * fixed only before the first key is hashed. Runs first: this process must
 * not have hashed a key when it forks. */
static void test_key_seed_fixed_before_first_use(void **state)
{
    (void)state;
    uint64_t took = 0;
    uint64_t a = hash_in_child(true, 7, &took);
    assert_int_equal(took, 1); /* the first fix holds, a second is refused */
    uint64_t b = hash_in_child(true, 7, &took);
    assert_int_equal(took, 1);
    assert_true(a == b);
    assert_true(hash_in_child(true, 8, &took) != a);
    assert_true(hash_in_child(false, 0, &took) != hash_in_child(false, 0, &took));
    (void)cw__hash_key("key", 3); /* this process draws its own */
    assert_false(cw__hash_key_fix_seed(7));
}

static void test_insert_find_remove(void **state)
{
    (void)state;
    cw__map m;
    cw__map_init(&m);
    item a = {1, 10}, b = {2, 20};
    assert_null(cw__map_find(&m, good_hash(1), item_eq, &a.key)); /* empty: no table yet */
    assert_null(cw__map_remove(&m, good_hash(1), item_eq, &a.key));
    assert_int_equal(cw__map_insert(&m, good_hash(a.key), &a), CW_OK);
    assert_int_equal(cw__map_insert(&m, good_hash(b.key), &b), CW_OK);
    assert_int_equal(m.count, 2);
    assert_ptr_equal(cw__map_find(&m, good_hash(1), item_eq, &a.key), &a);
    assert_ptr_equal(cw__map_find(&m, good_hash(2), item_eq, &b.key), &b);
    uint64_t missing = 3;
    assert_null(cw__map_find(&m, good_hash(3), item_eq, &missing));
    assert_null(cw__map_remove(&m, good_hash(3), item_eq, &missing));
    assert_ptr_equal(cw__map_remove(&m, good_hash(1), item_eq, &a.key), &a);
    assert_null(cw__map_find(&m, good_hash(1), item_eq, &a.key));
    assert_ptr_equal(cw__map_find(&m, good_hash(2), item_eq, &b.key), &b);
    assert_int_equal(m.count, 1);
    /* Hash 0 is a valid hash (0 marks empty slots inside). */
    item z = {0, 0};
    assert_int_equal(cw__map_insert(&m, 0, &z), CW_OK);
    assert_ptr_equal(cw__map_find(&m, 0, item_eq, &z.key), &z);
    assert_ptr_equal(cw__map_remove(&m, 0, item_eq, &z.key), &z);
    cw__map_destroy(&m);
    assert_int_equal(m.cap, 0);
}

/* Random inserts and removals against a reference, with a good hash and
 * with one that collides constantly (removal must keep every run whole). */
static void random_ops(uint64_t (*hash)(uint64_t))
{
    enum { N = 600 };
    static item items[N];
    static bool present[N];
    cw__map m;
    cw__map_init(&m);
    for (size_t i = 0; i < N; i++) {
        items[i] = (item){i * 7919 + 1, (int)i};
        present[i] = false;
    }
    for (int op = 0; op < 6000; op++) {
        size_t i = tu_below(N);
        if (present[i]) {
            TU_CHECK(cw__map_remove(&m, hash(items[i].key), item_eq, &items[i].key) == &items[i]);
            present[i] = false;
        } else {
            TU_CHECK(cw__map_insert(&m, hash(items[i].key), &items[i]) == CW_OK);
            present[i] = true;
        }
        if (op % 97 == 0)
            check_table(&m, items, present, N, hash);
    }
    check_table(&m, items, present, N, hash);
    cw__map_destroy(&m);
}

static void test_random_against_reference(void **state)
{
    (void)state;
    random_ops(good_hash);
    random_ops(bad_hash);
}

/* Growth doubles the capacity and keeps every item; each visits every item once. */
static void count_item(void *it, void *ctx)
{
    (void)it;
    (*(size_t *)ctx)++;
}

static void test_growth_keeps_items(void **state)
{
    (void)state;
    enum { N = 5000 };
    static item items[N];
    static bool present[N];
    cw__map m;
    cw__map_init(&m);
    size_t last_cap = 0;
    for (size_t i = 0; i < N; i++) {
        items[i] = (item){i, (int)i};
        present[i] = true;
        assert_int_equal(cw__map_insert(&m, good_hash(i), &items[i]), CW_OK);
        if (m.cap != last_cap) {
            assert_true(last_cap == 0 || m.cap == 2 * last_cap);
            last_cap = m.cap;
        }
    }
    check_table(&m, items, present, N, good_hash);
    size_t visited = 0;
    cw__map_each(&m, count_item, &visited);
    assert_int_equal(visited, N);
    cw__map_destroy(&m);
}

/* After reserve(k), k inserts allocate nothing, so they cannot fail; a
 * failed grow leaves the table as it was. */
static void test_reserve_and_allocation_failure(void **state)
{
    (void)state;
    enum { N = 100 };
    static item items[N];
    static bool present[N];
    cw__map m;
    cw__map_init(&m);
    for (size_t i = 0; i < N; i++)
        items[i] = (item){i, (int)i};
    assert_int_equal(cw__map_reserve(&m, N), CW_OK);
    tu_fail_alloc_after(0);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(cw__map_insert(&m, good_hash(i), &items[i]), CW_OK);
        present[i] = true;
    }
    tu_fail_alloc_off();
    check_table(&m, items, present, N, good_hash);
    /* The table is now full to its bound: the next insert must grow. */
    while (m.count < m.cap / 2) {
        static item extra[256];
        size_t k = m.count - N;
        extra[k] = (item){1000000 + k, 0};
        assert_int_equal(cw__map_insert(&m, good_hash(extra[k].key), &extra[k]), CW_OK);
    }
    cw__map before = m;
    cw__map_slot *slots = malloc(m.cap * sizeof *slots);
    assert_non_null(slots);
    memcpy(slots, m.slots, m.cap * sizeof *slots);
    item one = {999, 0};
    tu_fail_alloc_after(0);
    assert_int_equal(cw__map_insert(&m, good_hash(one.key), &one), CW_ENOMEM);
    assert_int_equal(cw__map_reserve(&m, 1), CW_ENOMEM);
    tu_fail_alloc_off();
    assert_memory_equal(&before, &m, sizeof m);
    assert_memory_equal(slots, m.slots, m.cap * sizeof *slots);
    assert_null(cw__map_find(&m, good_hash(one.key), item_eq, &one.key));
    for (size_t i = 0; i < N; i++)
        assert_ptr_equal(cw__map_find(&m, good_hash(i), item_eq, &items[i].key), &items[i]);
    free(slots);
    cw__map_destroy(&m);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Deterministic, and sensitive to every bit and to the length: keys of
 * every length up to 40 bytes, all zero or with one bit set, and up to 16
 * bytes with two bits set, all hash apart. (With a plain multiply a step, a
 * difference in a word's top bits cancelled against a later word's.) */
static void test_hash_bytes(void **state)
{
    (void)state;
    const char *a = "key-0123456789abcdef";
    assert_true(cw__hash_bytes(a, 20) == cw__hash_bytes("key-0123456789abcdef", 20));
    enum { MAXLEN = 40 };
    static uint64_t seen[(MAXLEN + 1) * (1 + MAXLEN * 8) + 16 * (16 * 8) * (16 * 8) / 2];
    uint8_t buf[MAXLEN] = {0};
    size_t n = 0;
    for (size_t len = 0; len <= MAXLEN; len++) {
        seen[n++] = cw__hash_bytes(buf, len);
        for (size_t i = 0; i < len; i++)
            for (int bit = 0; bit < 8; bit++) {
                buf[i] ^= (uint8_t)(1u << bit);
                seen[n++] = cw__hash_bytes(buf, len);
                buf[i] ^= (uint8_t)(1u << bit);
            }
    }
    for (size_t len = 1; len <= 16; len++)
        for (size_t i = 0; i < len * 8; i++)
            for (size_t j = i + 1; j < len * 8; j++) {
                buf[i / 8] ^= (uint8_t)(1u << i % 8);
                buf[j / 8] ^= (uint8_t)(1u << j % 8);
                seen[n++] = cw__hash_bytes(buf, len);
                buf[i / 8] ^= (uint8_t)(1u << i % 8);
                buf[j / 8] ^= (uint8_t)(1u << j % 8);
            }
    qsort(seen, n, sizeof *seen, cmp_u64);
    for (size_t i = 1; i < n; i++)
        assert_true(seen[i - 1] != seen[i]);
}

/* Keys chosen to collide under the hash every process shares (the same
 * low bits, so one probe run in a table) do not collide under the key hash,
 * whose seed is this process's: a client cannot flood a store's table. */
static void test_key_hash_is_seeded(void **state)
{
    (void)state;
    enum { KEYS = 64, BITS = 10 };
    const uint64_t mask = (1u << BITS) - 1;
    char found[KEYS][24];
    size_t n = 0;
    uint64_t target = cw__hash_bytes("k0", 2) & mask;
    for (uint64_t i = 0; n < KEYS && i < ((uint64_t)KEYS << (BITS + 4)); i++) {
        int len = snprintf(found[n], sizeof found[n], "k%llu", (unsigned long long)i);
        if ((cw__hash_bytes(found[n], (size_t)len) & mask) == target)
            n++;
    }
    assert_int_equal(n, KEYS); /* the attack works on the shared hash */
    uint64_t low[KEYS];
    for (size_t k = 0; k < KEYS; k++)
        low[k] = cw__hash_key(found[k], strlen(found[k])) & mask;
    qsort(low, KEYS, sizeof *low, cmp_u64);
    size_t distinct = 1;
    for (size_t k = 1; k < KEYS; k++)
        distinct += low[k] != low[k - 1];
    /* 64 random picks of 1,024 slots: ~62 distinct; fewer than 48 has a
     * chance below 10^-20. */
    assert_true(distinct >= 48);
    assert_true(cw__hash_key("k0", 2) == cw__hash_key("k0", 2)); /* stable within the process */
}

int main(void)
{
    printf("# seed %llu\n", (unsigned long long)tu_seed());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_seed_fixed_before_first_use),
        cmocka_unit_test(test_insert_find_remove),
        cmocka_unit_test(test_random_against_reference),
        cmocka_unit_test(test_growth_keeps_items),
        cmocka_unit_test(test_reserve_and_allocation_failure),
        cmocka_unit_test(test_hash_bytes),
        cmocka_unit_test(test_key_hash_is_seeded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
