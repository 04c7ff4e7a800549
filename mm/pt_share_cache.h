/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pt_share internals, shared by mm/pt_share*.c and nothing else: the
 * geometry of a shared PTE table, the cache that holds the tables of one
 * address_space, and the few functions one part of pt_share calls in
 * another.
 *
 * A shared PTE table maps PTRS_PER_PTE consecutive pages of one file. It is
 * cached in the file's address_space under the file index of its first page,
 * which is always a multiple of PTRS_PER_PTE, so every mapper of that range
 * finds the same table whatever address it mapped the file at.
 */
#ifndef _MM_PT_SHARE_CACHE_H
#define _MM_PT_SHARE_CACHE_H

#include <linux/mm.h>
#include <linux/xarray.h>

/*
 * pt_share_span_eligible - may [vm_start, vm_end) at @vm_pgoff use a shared
 * table for the @size-aligned span (PMD_SIZE for a PTE table, PUD_SIZE for
 * a PMD table) that contains @addr?
 *
 * The VMA must cover the whole span, or a table entry would map a page this
 * VMA does not; and the address must agree with the file offset modulo
 * @size, or two mappers of the same file pages would need different tables.
 */
static inline bool pt_share_span_eligible(unsigned long vm_start,
					  unsigned long vm_end,
					  unsigned long vm_pgoff,
					  unsigned long addr,
					  unsigned long size)
{
	unsigned long start = addr & ~(size - 1);

	if (addr < vm_start || addr >= vm_end)
		return false;
	/* Written as a difference so that a span at the top cannot wrap. */
	if (start < vm_start || vm_end - start < size)
		return false;
	return !(((vm_start >> PAGE_SHIFT) - vm_pgoff) &
		 ((size >> PAGE_SHIFT) - 1));
}

/* pt_share_span_eligible() for the PMD_SIZE span of one PTE table. */
static inline bool pt_share_range_eligible(unsigned long vm_start,
					   unsigned long vm_end,
					   unsigned long vm_pgoff,
					   unsigned long addr)
{
	return pt_share_span_eligible(vm_start, vm_end, vm_pgoff, addr,
				      PMD_SIZE);
}

/*
 * pt_share_table_index - file index of the first page mapped by the table
 * that covers @addr; the cache key. A multiple of PTRS_PER_PTE whenever
 * pt_share_range_eligible() holds.
 */
static inline unsigned long pt_share_table_index(unsigned long vm_start,
						 unsigned long vm_pgoff,
						 unsigned long addr)
{
	return vm_pgoff + (((addr & PMD_MASK) - vm_start) >> PAGE_SHIFT);
}

/*
 * pt_share_align_offset - the offset within PMD_SIZE that the address of a
 * mapping starting at file index @pgoff needs to be able to share tables.
 */
static inline unsigned long pt_share_align_offset(unsigned long pgoff)
{
	return (pgoff << PAGE_SHIFT) & (PMD_SIZE - 1);
}

/* ---- the cache ------------------------------------------------------- */

/*
 * Distinct protections per file that may share, in two pools: mappings that
 * may write the file (VM_MAYWRITE) take variants from the first pool, the
 * others from the second. An opener without write access can only fill the
 * second pool, so no combination of read-only mappings keeps writers from
 * sharing. A variant's slot is free again once no table of it is cached.
 * A mapping that finds its pool full just does not share.
 */
#define PT_SHARE_POOL_VARIANTS	4
#define PT_SHARE_MAX_VARIANTS	(2 * PT_SHARE_POOL_VARIANTS)

/*
 * A protection variant: the vm_page_prot and flags every entry of its tables
 * is built from, whichever VMA a fault or an rmap walk comes through. Both
 * are set while the slot is free (no table of it cached) and then stay, so
 * they may be read without the cache lock by whoever holds a table of it.
 */
struct pt_share_variant {
	pgprot_t prot;
	vm_flags_t flags;
	unsigned int nr_tables;
};

/**
 * struct pt_share_cache - the shared page tables of one address_space
 * @tables: key (table number * PT_SHARE_MAX_VARIANTS + variant) -> ptdesc,
 *          for PTE tables, and pt_share_pmd_key() -> ptdesc for PMD tables.
 *          Its xa_lock is the cache lock; it also protects @variants.
 * @variants: the protection variants, indexed by variant id; a slot with
 *            no cached table (nr_tables == 0) is free.
 *
 * A table is in @tables exactly while its pt_share_count is non-zero.
 */
struct pt_share_cache {
	struct xarray tables;
	struct pt_share_variant variants[PT_SHARE_MAX_VARIANTS];
};

/*
 * The key is kept in 32 bits of the ptdesc (next to pt_share_count): files
 * past this index (1 PiB with 4 KiB pages) do not share.
 */
#define PT_SHARE_MAX_INDEX \
	((pgoff_t)(U32_MAX / PT_SHARE_MAX_VARIANTS) * PTRS_PER_PTE - 1)

static inline unsigned long pt_share_key(unsigned long index, int variant)
{
	return (index / PTRS_PER_PTE) * PT_SHARE_MAX_VARIANTS + variant;
}

static inline unsigned int pt_share_key_variant(unsigned long key)
{
	return key % PT_SHARE_MAX_VARIANTS;
}

/* The file index of the first page the table at @key maps. */
static inline pgoff_t pt_share_key_index(unsigned long key)
{
	return key / PT_SHARE_MAX_VARIANTS * PTRS_PER_PTE;
}

/*
 * The entries [*from, *to) of the table at @key that map file indices
 * [first, last]; the table's range must overlap it.
 */
static inline void pt_share_entry_range(unsigned long key, pgoff_t first,
					pgoff_t last, unsigned int *from,
					unsigned int *to)
{
	pgoff_t base = pt_share_key_index(key);

	*from = first > base ? first - base : 0;
	*to = last - base >= PTRS_PER_PTE ? PTRS_PER_PTE : last - base + 1;
}

/*
 * The PMD level: a shared PMD table maps PT_SHARE_PMD_PAGES pages, PUD_SIZE
 * of one file, through PTRS_PER_PMD shared PTE tables. It is cached in the
 * same xarray as they are, under a key above every key a PTE table can
 * have, so that one lock covers both levels and a walk over the PTE
 * tables' keys never meets a PMD table. Its ptdesc keeps the key less
 * PT_SHARE_PMD_KEY_BASE.
 */
#define PT_SHARE_PMD_PAGES	((unsigned long)PTRS_PER_PMD * PTRS_PER_PTE)
#define PT_SHARE_PMD_KEY_BASE	BIT(32)
/* The last key a PTE table can have. */
#define PT_SHARE_PTE_KEY_LAST	(PT_SHARE_PMD_KEY_BASE - 1)

static inline unsigned long pt_share_pmd_key(pgoff_t index, int variant)
{
	return PT_SHARE_PMD_KEY_BASE +
	       (index / PT_SHARE_PMD_PAGES) * PT_SHARE_MAX_VARIANTS + variant;
}

/* The entry of its PMD table that points to the PTE table of @index. */
static inline unsigned int pt_share_pmd_entry(pgoff_t index)
{
	return (index / PTRS_PER_PTE) % PTRS_PER_PMD;
}

/* vm.pt_share_min_bytes: mappings shorter than this never share. */
extern unsigned long sysctl_pt_share_min_bytes;
/* vm.pt_share_idle: keep tables whose last sharer left. */
extern unsigned int sysctl_pt_share_idle;

struct pt_share_cache *pt_share_cache_get(struct address_space *mapping);
int pt_share_variant_id(struct pt_share_cache *cache,
			struct vm_area_struct *vma);
void pt_share_put(struct pt_share_cache *cache, struct ptdesc *table,
		  struct mm_struct *mm);
void pt_share_erase(struct pt_share_cache *cache, struct ptdesc *table);
void pt_share_table_free(struct ptdesc *table);

/* ---- the PMD level (pt_share_pmd.c) ------------------------------------ */

struct ptdesc *pt_share_pmd_get(struct pt_share_cache *cache,
				struct vm_area_struct *vma, pgoff_t index,
				struct ptdesc **prealloc);
void pt_share_pmd_put(struct pt_share_cache *cache, struct ptdesc *pmd_table);
int pt_share_table_sharers(struct pt_share_cache *cache, struct ptdesc *table);
bool pt_share_pud_detach(struct vm_area_struct *vma, unsigned long addr,
			 bool keep, bool i_mmap_held, enum vm_event_item cause);

/* ---- attach and detach (pt_share_attach.c) ----------------------------- */

bool pt_share_vma_eligible(struct vm_area_struct *vma);
void pt_share_unshare_range_locked(struct vm_area_struct *vma,
				   unsigned long start, unsigned long end,
				   enum vm_event_item cause, bool i_mmap_held);

/* ---- idle tables (pt_share_idle.c) ------------------------------------- */

struct pt_share_zap;

/* Is @table idle? The caller holds the cache lock. */
static inline bool pt_share_table_idle(struct ptdesc *table)
{
	return !atomic_read(&table->pt_share_count);
}

bool pt_share_idle_ready(void);
bool pt_share_idle_add(struct ptdesc *table, struct obj_cgroup *objcg);
void pt_share_idle_reuse(struct ptdesc *table);
bool pt_share_idle_zap(struct pt_share_cache *cache, struct ptdesc *table,
		       unsigned int from, unsigned int to,
		       struct pt_share_zap *zap);

/* ---- zapping entries that belong to no VMA ----------------------------- */

/*
 * The folios whose entries a zap cleared, held until no TLB maps them: a
 * table's worth when the caller could allocate that, so that the sharers
 * are flushed once per table, or a few on the stack.
 */
struct pt_share_zap {
	struct folio **folios;
	unsigned int nr, max;
};

#define PT_SHARE_ZAP_STACK	16

void pt_share_zap_table(struct ptdesc *table, unsigned int from,
			unsigned int to, struct pt_share_zap *zap, bool flush);
void pt_share_flush_sharers(struct ptdesc *table, unsigned int i,
			    pte_t pteval, bool batch);

/* ---- memcg: every attachment pays for its table ------------------------ */

/* mm->pt_share_objcg after a first attachment that had no memcg to charge. */
#define PT_SHARE_UNCHARGED	((struct obj_cgroup *)1UL)

#ifdef CONFIG_MEMCG
struct obj_cgroup *pt_share_mm_objcg(struct mm_struct *mm);
void pt_share_uncharge_page(struct page *page);
void pt_share_charge(struct mm_struct *mm);
void pt_share_uncharge(struct mm_struct *mm);
#else
static inline struct obj_cgroup *pt_share_mm_objcg(struct mm_struct *mm)
{
	return PT_SHARE_UNCHARGED;
}

static inline void pt_share_uncharge_page(struct page *page)
{
}

static inline void pt_share_charge(struct mm_struct *mm)
{
}

static inline void pt_share_uncharge(struct mm_struct *mm)
{
}
#endif

#endif /* _MM_PT_SHARE_CACHE_H */
