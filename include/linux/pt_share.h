/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pt_share: page-table sharing for MAP_SHARED file mappings.
 *
 * Processes that map the same file range MAP_SHARED, with the same effective
 * protection, can use one set of PTE tables cached in the file's
 * address_space, the way threads of one process share theirs.
 * See Documentation/admin-guide/mm/pt_share.rst.
 *
 * The hooks the core mm calls are inline wrappers behind static keys, with
 * empty stubs when CONFIG_PT_SHARE is off, so call sites need no #ifdef:
 * pt_share_enabled_key follows the vm.pt_share sysctl and gates new
 * attaches; pt_share_used_key is set the first time sharing is switched on
 * and gates the teardown hooks, which must keep working after it is
 * switched off again.
 */
#ifndef _LINUX_PT_SHARE_H
#define _LINUX_PT_SHARE_H

#include <linux/jump_label.h>
#include <linux/mm.h>
#include <linux/types.h>
#include <linux/vm_event_item.h>

#ifdef CONFIG_PT_SHARE

DECLARE_STATIC_KEY_FALSE(pt_share_enabled_key);
DECLARE_STATIC_KEY_FALSE(pt_share_used_key);

#ifdef CONFIG_PT_SHARE_DEBUG_WINDOWS
void pt_share_debug_zap_window(void);
void pt_share_debug_put_window(void);
void pt_share_debug_unmap_window(void);
void pt_share_debug_gup_window(void);
#else
static inline void pt_share_debug_zap_window(void)
{
}

static inline void pt_share_debug_put_window(void)
{
}

static inline void pt_share_debug_unmap_window(void)
{
}

static inline void pt_share_debug_gup_window(void)
{
}
#endif

/**
 * pt_share_enabled - is attaching to shared page tables switched on?
 *
 * Return: true while the vm.pt_share sysctl is 1. Costs a patched jump.
 */
static inline bool pt_share_enabled(void)
{
	return static_branch_unlikely(&pt_share_enabled_key);
}

/**
 * pt_share_table_shared - is this PTE table a shared one?
 * @table: a PTE table
 *
 * A shared table records the address_space it maps in __page_mapping;
 * a private one has it NULL, as every page table does.
 *
 * Return: true if @table is cached in a file's pt_share cache.
 */
static inline bool pt_share_table_shared(struct ptdesc *table)
{
	return static_branch_unlikely(&pt_share_used_key) &&
	       table->__page_mapping;
}

/**
 * pt_share_pmd_shared - does this pmd value point to a shared PTE table?
 * @pmdval: the pmd value
 *
 * Return: true for a present, non-leaf pmd whose table is shared.
 */
static inline bool pt_share_pmd_shared(pmd_t pmdval)
{
	if (!static_branch_unlikely(&pt_share_used_key))
		return false;
	if (!pmd_present(pmdval) || pmd_leaf(pmdval))
		return false;
	return pt_share_table_shared(page_ptdesc(pmd_page(pmdval)));
}

/**
 * pt_share_pud_shared - does this PUD value point to a shared PMD table?
 * @pudval: the PUD value
 *
 * Return: true for a present, non-leaf PUD whose table is shared.
 */
static inline bool pt_share_pud_shared(pud_t pudval)
{
	if (!static_branch_unlikely(&pt_share_used_key))
		return false;
	if (!pud_present(pudval) || pud_leaf(pudval))
		return false;
	return virt_to_ptdesc(pud_pgtable(pudval))->__page_mapping;
}

/**
 * pt_share_pmd_in_shared - does this pmd entry lie in a shared PMD table?
 * @pmdp: a pointer to a pmd entry
 *
 * Such an entry is every sharer's: nothing private may be installed there,
 * and only the file's rmap side may change it.
 *
 * Return: true if the table holding @pmdp is a shared PMD table.
 */
static inline bool pt_share_pmd_in_shared(pmd_t *pmdp)
{
	return pt_share_table_shared(virt_to_ptdesc(pmdp));
}

/**
 * pt_share_pte_shared - is this PTE in a shared table?
 * @ptep: a mapped PTE pointer, with its table's lock held
 *
 * Return: true if the table that holds @ptep is shared.
 */
static inline bool pt_share_pte_shared(pte_t *ptep)
{
	return pt_share_table_shared(virt_to_ptdesc(ptep));
}

int __pt_share_pte_sharers(struct ptdesc *table);

/**
 * pt_share_pte_sharers - how many mms reach the entry at @ptep
 * @ptep: a mapped PTE pointer, with its table's lock held
 *
 * An entry of a shared table counts once in its page's mapcount, but it
 * maps the page into every attached mm. smaps and pagemap add the other
 * sharers to the mapcount they report.
 *
 * Return: the number of mms attached to a shared table, directly or
 * through a shared PMD table, 1 for a private one.
 */
static inline int pt_share_pte_sharers(pte_t *ptep)
{
	struct ptdesc *table = virt_to_ptdesc(ptep);

	if (!pt_share_table_shared(table))
		return 1;
	return __pt_share_pte_sharers(table);
}

bool __pt_share_attach(struct vm_fault *vmf);
void __pt_share_attach_pud(struct vm_area_struct *vma, pud_t *pud,
			   unsigned long addr);
bool __pt_share_zap_pud(struct vm_area_struct *vma, pud_t *pud,
			unsigned long addr, unsigned long end,
			struct zap_details *details);
bool __pt_share_free_pud(struct mm_struct *mm, pud_t *pud);
bool __pt_share_dontneed(struct vm_area_struct *vma, unsigned long start,
			 unsigned long end);
bool __pt_share_gup_fast_unmapped(pmd_t *pmdp, unsigned long addr);
void __pt_share_split_pmd_tables(struct mm_struct *mm,
				 enum vm_event_item cause);
bool __pt_share_zap_pmd(struct vm_area_struct *vma, pmd_t *pmd,
			unsigned long addr);
bool __pt_share_change_pmd(struct vm_area_struct *vma, pmd_t *pmd,
			   unsigned long addr, unsigned long cp_flags);
bool __pt_share_collapse_pmd(struct vm_area_struct *vma, unsigned long addr,
			     bool install_pmd);
void __pt_share_unshare_range(struct vm_area_struct *vma, unsigned long start,
			      unsigned long end, enum vm_event_item cause);
void __pt_share_unshare_mm(struct mm_struct *mm, enum vm_event_item cause);
void __pt_share_vma_adjust(struct vm_area_struct *vma, unsigned long start,
			   unsigned long end, long adjust_next);
void __pt_share_unmap_mapping(struct address_space *mapping, pgoff_t first,
			      pgoff_t last);
bool __pt_share_ptep_clear_flush(struct vm_area_struct *vma,
				 unsigned long addr, pte_t *ptep,
				 pte_t *pteval, bool batch);
void pt_share_mapping_destroy(struct address_space *mapping);
void __pt_share_mapping_evict(struct address_space *mapping);
void __pt_share_unmap_idle(struct folio *folio);
void __pt_share_evict_idle(struct folio *folio);
unsigned long __pt_share_align_size(unsigned long len, unsigned long pgoff,
				    unsigned long flags);
void __pt_share_vma_modify(struct vm_area_struct *vma, unsigned long start,
			   unsigned long end, vm_flags_t new_flags);
void __pt_share_vma_merge(struct vm_area_struct *vma,
			  struct vm_area_struct *remove,
			  struct vm_area_struct *remove2);
bool __pt_share_clear_refs_pmd(struct vm_area_struct *vma, pmd_t *pmd,
			       unsigned long addr, bool clear_folios);
pgprot_t __pt_share_pte_prot(struct vm_area_struct *vma, pte_t *ptep);
void __pt_share_mm_free(struct mm_struct *mm);

/**
 * pt_share_align_size - the alignment a new shmem mapping should get
 * @len: length of the mapping
 * @pgoff: file offset of its start, in pages
 * @flags: its mmap flags
 *
 * Lets unmodified programs share: when the kernel picks the address of a
 * shared mapping that may share, it picks one congruent with the file
 * offset modulo the returned size, as it does for shmem THPs.
 *
 * Return: PUD_SIZE or PMD_SIZE, or 0 if the mapping would not share.
 */
static inline unsigned long pt_share_align_size(unsigned long len,
						unsigned long pgoff,
						unsigned long flags)
{
	return pt_share_enabled() ? __pt_share_align_size(len, pgoff, flags) : 0;
}

/**
 * pt_share_attach - populate a none pmd with a shared table, if allowed
 * @vmf: the fault, with vmf->pmd none and vmf->prealloc_pte set
 *
 * Under a shared PMD table, which may still be attached after sharing was
 * switched off, the table is attached into it whatever vm.pt_share says:
 * nothing private may go there.
 *
 * Return: true if the pmd is populated now, or lies in a shared PMD table;
 * false if the caller should install vmf->prealloc_pte as a private table.
 */
static inline bool pt_share_attach(struct vm_fault *vmf)
{
	return static_branch_unlikely(&pt_share_used_key) &&
	       __pt_share_attach(vmf);
}

/**
 * pt_share_attach_pud - populate a none PUD entry with a shared PMD table
 * @vma: the faulting VMA
 * @pud: the PUD entry of @addr
 * @addr: the faulting address
 *
 * May sleep. Does nothing unless sharing is on, the PUD entry is none and
 * @vma may share the whole PUD_SIZE stretch around @addr.
 */
static inline void pt_share_attach_pud(struct vm_area_struct *vma,
				       pud_t *pud, unsigned long addr)
{
	if (pt_share_enabled() && pud_none(pudp_get(pud)))
		__pt_share_attach_pud(vma, pud, addr);
}

/**
 * pt_share_zap_pud - a zap meets a PUD entry: detach a shared PMD table
 * @vma: the VMA being zapped
 * @pud: the PUD entry
 * @addr: start of the range zapped under it
 * @end: end of that range
 * @details: the zap's details
 *
 * Return: true if the caller must not walk the PMD table at @pud.
 */
static inline bool pt_share_zap_pud(struct vm_area_struct *vma, pud_t *pud,
				    unsigned long addr, unsigned long end,
				    struct zap_details *details)
{
	return static_branch_unlikely(&pt_share_used_key) &&
	       __pt_share_zap_pud(vma, pud, addr, end, details);
}

/**
 * pt_share_dontneed - MADV_DONTNEED meets a range: detach shared PMD tables
 * @vma: the VMA advised, with the mmap lock held for read
 * @start: start of the range
 * @end: its end, within @vma
 *
 * Return: false if the mmap lock was dropped (as by userfaultfd_remove()),
 * and the caller must take it again and look the VMA up again.
 */
static inline bool pt_share_dontneed(struct vm_area_struct *vma,
				     unsigned long start, unsigned long end)
{
	return !static_branch_unlikely(&pt_share_used_key) ||
	       __pt_share_dontneed(vma, start, end);
}

/**
 * pt_share_gup_fast_unmapped - recheck GUP-fast's way to a shared PMD table
 * @pmdp: the pmd entry GUP-fast reached without locks
 * @addr: the address it took a page reference for
 *
 * GUP-fast rechecks the pmd and the PTE once it holds the reference, to
 * back off from a racing unmap. An mm that detaches from a shared PMD
 * table leaves the table's entries as they are, so for an entry in one,
 * the PUD entry of current's mm is rechecked too.
 *
 * Return: true if that PUD entry no longer points to @pmdp's table.
 */
static inline bool pt_share_gup_fast_unmapped(pmd_t *pmdp, unsigned long addr)
{
	return static_branch_unlikely(&pt_share_used_key) &&
	       pt_share_pmd_in_shared(pmdp) &&
	       __pt_share_gup_fast_unmapped(pmdp, addr);
}

/**
 * pt_share_free_pud - page-table freeing must never free a shared PMD table
 * @mm: the mm whose tables are freed
 * @pud: the PUD entry
 *
 * Return: true if @pud pointed to a shared PMD table (a bug, now detached).
 */
static inline bool pt_share_free_pud(struct mm_struct *mm, pud_t *pud)
{
	return static_branch_unlikely(&pt_share_used_key) &&
	       __pt_share_free_pud(mm, pud);
}

/**
 * pt_share_split_pmd_tables - detach an mm's shared PMD tables, keeping
 *                             its PTE-level sharing
 * @mm: the mm, with its mmap lock held for write
 * @cause: the /proc/vmstat counter of the reason
 */
static inline void pt_share_split_pmd_tables(struct mm_struct *mm,
					     enum vm_event_item cause)
{
	if (static_branch_unlikely(&pt_share_used_key))
		__pt_share_split_pmd_tables(mm, cause);
}

/**
 * pt_share_add_mm_counter - add_mm_counter() for entries set or cleared
 * @mm: the mm
 * @ptep: the entry's PTE pointer, with its table's lock held
 * @member: the MM_* counter
 * @value: pages added (negative: removed)
 *
 * An entry inside a shared table moves no mm's counters: the attach
 * accounted the whole span already.
 */
static inline void pt_share_add_mm_counter(struct mm_struct *mm, pte_t *ptep,
					   int member, long value)
{
	if (!pt_share_pte_shared(ptep))
		add_mm_counter(mm, member, value);
}

/**
 * pt_share_zap_pmd - let zap_pmd_range() detach from a shared table
 * @vma: the VMA being zapped
 * @pmd: the pmd of the span
 * @addr: an address in the span
 *
 * Return: true if the pmd was a shared table, now detached: skip it.
 */
static inline bool pt_share_zap_pmd(struct vm_area_struct *vma, pmd_t *pmd,
				    unsigned long addr)
{
	if (!pt_share_pmd_shared(pmdp_get_lockless(pmd))) {
		/*
		 * The selftests widen the window between this look and the
		 * table lock, which zap_pte_range() closes by a re-check.
		 */
		pt_share_debug_zap_window();
		return false;
	}
	return __pt_share_zap_pmd(vma, pmd, addr);
}

/**
 * pt_share_change_pmd - let change_pmd_range() handle a shared table
 * @vma: the VMA
 * @pmd: the pmd of the span
 * @addr: an address in the span
 * @cp_flags: MM_CP_* flags
 *
 * Return: true if the caller must skip this pmd.
 */
static inline bool pt_share_change_pmd(struct vm_area_struct *vma, pmd_t *pmd,
				       unsigned long addr,
				       unsigned long cp_flags)
{
	if (!static_branch_unlikely(&pt_share_used_key))
		return false;
	return __pt_share_change_pmd(vma, pmd, addr, cp_flags);
}

/**
 * pt_share_collapse_pmd - let collapse_pte_mapped_thp() map a span by a PMD
 * @vma: the VMA
 * @addr: the PMD-aligned start of the span
 * @install_pmd: the caller maps the span's huge folio by a PMD now
 *
 * The caller holds the mmap lock and the lock of the span's PMD-sized folio.
 *
 * Return: true if the span is attached to a shared table, which the caller
 * must leave alone.
 */
static inline bool pt_share_collapse_pmd(struct vm_area_struct *vma,
					 unsigned long addr, bool install_pmd)
{
	if (!static_branch_unlikely(&pt_share_used_key))
		return false;
	return __pt_share_collapse_pmd(vma, addr, install_pmd);
}

/**
 * pt_share_unshare_range - detach one mm from the shared tables of a range
 * @vma: the VMA
 * @start: start of the range
 * @end: end of the range
 * @cause: the PT_SHARE_DETACH_* counter of the reason
 */
static inline void pt_share_unshare_range(struct vm_area_struct *vma,
					  unsigned long start,
					  unsigned long end,
					  enum vm_event_item cause)
{
	if (static_branch_unlikely(&pt_share_used_key))
		__pt_share_unshare_range(vma, start, end, cause);
}

/**
 * pt_share_unshare_mm - detach an mm from all its shared tables
 * @mm: the mm, mmap lock held for write
 * @cause: the PT_SHARE_DETACH_* counter of the reason
 */
static inline void pt_share_unshare_mm(struct mm_struct *mm,
				       enum vm_event_item cause)
{
	if (static_branch_unlikely(&pt_share_used_key))
		__pt_share_unshare_mm(mm, cause);
}

/**
 * pt_share_vma_adjust - VMA boundaries move; see vma_adjust_trans_huge()
 * @vma: the VMA whose range becomes [@start, @end)
 * @start: new start
 * @end: new end
 * @adjust_next: how far the next VMA's start moves
 */
static inline void pt_share_vma_adjust(struct vm_area_struct *vma,
				       unsigned long start, unsigned long end,
				       long adjust_next)
{
	if (static_branch_unlikely(&pt_share_used_key))
		__pt_share_vma_adjust(vma, start, end, adjust_next);
}

/**
 * pt_share_unmap_mapping - truncate/hole punch: zap cached tables' entries
 * @mapping: the file, with i_mmap_rwsem held
 * @first: first file index to unmap
 * @last: last file index to unmap
 */
static inline void pt_share_unmap_mapping(struct address_space *mapping,
					  pgoff_t first, pgoff_t last)
{
	if (static_branch_unlikely(&pt_share_used_key))
		__pt_share_unmap_mapping(mapping, first, last);
}

/**
 * pt_share_unmap_idle - rmap: clear a folio's entries in idle tables
 * @folio: a locked folio that try_to_unmap() or try_to_migrate() walked
 *
 * Idle shared tables belong to no VMA, so the rmap walk cannot reach
 * them; a folio they still map is reached through its file's cache.
 */
static inline void pt_share_unmap_idle(struct folio *folio)
{
	if (!static_branch_unlikely(&pt_share_used_key))
		return;
	/* The selftests let a sharer leave while migration entries stay. */
	pt_share_debug_unmap_window();
	if (!folio_test_anon(folio) && folio_mapped(folio))
		__pt_share_unmap_idle(folio);
}

/**
 * pt_share_evict_idle - page-cache invalidation meets a mapped folio
 * @folio: a locked folio that mapping_evict_folio() may remove
 *
 * An entry in an idle table is no process's mapping, and must not keep a
 * clean folio in the page cache that would go without it.
 */
static inline void pt_share_evict_idle(struct folio *folio)
{
	if (static_branch_unlikely(&pt_share_used_key) &&
	    folio_mapped(folio) && !folio_test_dirty(folio) &&
	    !folio_test_writeback(folio))
		__pt_share_evict_idle(folio);
}

/**
 * pt_share_mapping_evict - an inode is evicted: free its idle tables
 * @mapping: the inode's address_space; no VMA maps it any more
 *
 * Called before ->evict_inode() truncates the page cache, so that no idle
 * table keeps a folio mapped.
 */
static inline void pt_share_mapping_evict(struct address_space *mapping)
{
	if (static_branch_unlikely(&pt_share_used_key) &&
	    READ_ONCE(mapping->pt_share))
		__pt_share_mapping_evict(mapping);
}

/**
 * pt_share_ptep_clear_flush - rmap: clear an entry of a shared table
 * @vma: the VMA the rmap walk reached the entry through
 * @addr: its address in @vma
 * @ptep: the entry, with its table's lock held
 * @pteval: where to store the old entry
 * @batch: the caller batches its TLB flushes (TTU_BATCH_FLUSH)
 *
 * Every mm attached to the table may cache the entry, at a different
 * address in each: clearing it flushes each of them, or adds them to the
 * caller's batch.
 *
 * Return: true if the entry was in a shared table and is now cleared.
 */
static inline bool pt_share_ptep_clear_flush(struct vm_area_struct *vma,
					     unsigned long addr, pte_t *ptep,
					     pte_t *pteval, bool batch)
{
	if (!pt_share_pte_shared(ptep))
		return false;
	return __pt_share_ptep_clear_flush(vma, addr, ptep, pteval, batch);
}

/**
 * pt_share_vma_modify - vma_modify(): a range is about to get new flags
 * @vma: the VMA
 * @start: start of the range
 * @end: end of the range
 * @new_flags: the flags the range will have
 */
static inline void pt_share_vma_modify(struct vm_area_struct *vma,
				       unsigned long start, unsigned long end,
				       vm_flags_t new_flags)
{
	if (static_branch_unlikely(&pt_share_used_key))
		__pt_share_vma_modify(vma, start, end, new_flags);
}

/**
 * pt_share_vma_merge - commit_merge(): @vma grows over removed VMAs
 * @vma: the VMA that grows
 * @remove: a VMA it takes over, or NULL
 * @remove2: another one, or NULL
 */
static inline void pt_share_vma_merge(struct vm_area_struct *vma,
				      struct vm_area_struct *remove,
				      struct vm_area_struct *remove2)
{
	if (static_branch_unlikely(&pt_share_used_key))
		__pt_share_vma_merge(vma, remove, remove2);
}

/**
 * pt_share_clear_refs_pmd - clear_refs leaves a shared table it meets
 * @vma: the VMA walked
 * @pmd: the pmd
 * @addr: an address in its span
 * @clear_folios: clear the referenced state of the folios it maps
 *
 * Return: true if @pmd was a shared table, now detached: skip it.
 */
static inline bool pt_share_clear_refs_pmd(struct vm_area_struct *vma,
					   pmd_t *pmd, unsigned long addr,
					   bool clear_folios)
{
	if (!pt_share_pmd_shared(pmdp_get_lockless(pmd)))
		return false;
	return __pt_share_clear_refs_pmd(vma, pmd, addr, clear_folios);
}

/**
 * pt_share_pte_prot - the protection to build a new entry at @ptep from
 * @vma: the VMA the fault or rmap walk came through
 * @ptep: the entry, with its table's lock held
 *
 * Return: the table's variant protection for a shared table, else the
 * VMA's vm_page_prot.
 */
static inline pgprot_t pt_share_pte_prot(struct vm_area_struct *vma,
					 pte_t *ptep)
{
	if (pt_share_pte_shared(ptep))
		return __pt_share_pte_prot(vma, ptep);
	return READ_ONCE(vma->vm_page_prot);
}

/**
 * pt_share_mm_init - a new mm has no pt_share state yet
 * @mm: the mm, copied from its parent's by fork
 */
static inline void pt_share_mm_init(struct mm_struct *mm)
{
	mm->pt_share_objcg = NULL;
}

/**
 * pt_share_mm_free - an mm is freed
 * @mm: the mm
 */
static inline void pt_share_mm_free(struct mm_struct *mm)
{
	if (static_branch_unlikely(&pt_share_used_key))
		__pt_share_mm_free(mm);
}

#else /* !CONFIG_PT_SHARE */

static inline bool pt_share_enabled(void)
{
	return false;
}

static inline bool pt_share_pte_shared(pte_t *ptep)
{
	return false;
}

static inline bool pt_share_pmd_shared(pmd_t pmdval)
{
	return false;
}

static inline int pt_share_pte_sharers(pte_t *ptep)
{
	return 1;
}

static inline bool pt_share_pud_shared(pud_t pudval)
{
	return false;
}

static inline bool pt_share_pmd_in_shared(pmd_t *pmdp)
{
	return false;
}

static inline bool pt_share_attach(struct vm_fault *vmf)
{
	return false;
}

static inline void pt_share_attach_pud(struct vm_area_struct *vma,
				       pud_t *pud, unsigned long addr)
{
}

static inline bool pt_share_zap_pud(struct vm_area_struct *vma, pud_t *pud,
				    unsigned long addr, unsigned long end,
				    struct zap_details *details)
{
	return false;
}

static inline bool pt_share_free_pud(struct mm_struct *mm, pud_t *pud)
{
	return false;
}

static inline bool pt_share_dontneed(struct vm_area_struct *vma,
				     unsigned long start, unsigned long end)
{
	return true;
}

static inline bool pt_share_gup_fast_unmapped(pmd_t *pmdp, unsigned long addr)
{
	return false;
}

static inline void pt_share_split_pmd_tables(struct mm_struct *mm,
					     enum vm_event_item cause)
{
}

static inline void pt_share_add_mm_counter(struct mm_struct *mm, pte_t *ptep,
					   int member, long value)
{
	add_mm_counter(mm, member, value);
}

static inline bool pt_share_zap_pmd(struct vm_area_struct *vma, pmd_t *pmd,
				    unsigned long addr)
{
	return false;
}

static inline bool pt_share_change_pmd(struct vm_area_struct *vma, pmd_t *pmd,
				       unsigned long addr,
				       unsigned long cp_flags)
{
	return false;
}

static inline bool pt_share_collapse_pmd(struct vm_area_struct *vma,
					 unsigned long addr, bool install_pmd)
{
	return false;
}

static inline void pt_share_unshare_range(struct vm_area_struct *vma,
					  unsigned long start,
					  unsigned long end,
					  enum vm_event_item cause)
{
}

static inline void pt_share_unshare_mm(struct mm_struct *mm,
				       enum vm_event_item cause)
{
}

static inline void pt_share_vma_adjust(struct vm_area_struct *vma,
				       unsigned long start, unsigned long end,
				       long adjust_next)
{
}

static inline void pt_share_unmap_mapping(struct address_space *mapping,
					  pgoff_t first, pgoff_t last)
{
}

static inline bool pt_share_ptep_clear_flush(struct vm_area_struct *vma,
					     unsigned long addr, pte_t *ptep,
					     pte_t *pteval, bool batch)
{
	return false;
}

static inline void pt_share_mapping_destroy(struct address_space *mapping)
{
}

static inline void pt_share_mapping_evict(struct address_space *mapping)
{
}

static inline void pt_share_unmap_idle(struct folio *folio)
{
}

static inline void pt_share_evict_idle(struct folio *folio)
{
}

static inline unsigned long pt_share_align_size(unsigned long len,
						unsigned long pgoff,
						unsigned long flags)
{
	return 0;
}

static inline void pt_share_vma_modify(struct vm_area_struct *vma,
				       unsigned long start, unsigned long end,
				       vm_flags_t new_flags)
{
}

static inline void pt_share_vma_merge(struct vm_area_struct *vma,
				      struct vm_area_struct *remove,
				      struct vm_area_struct *remove2)
{
}

static inline bool pt_share_clear_refs_pmd(struct vm_area_struct *vma,
					   pmd_t *pmd, unsigned long addr,
					   bool clear_folios)
{
	return false;
}

static inline pgprot_t pt_share_pte_prot(struct vm_area_struct *vma,
					 pte_t *ptep)
{
	return READ_ONCE(vma->vm_page_prot);
}

static inline void pt_share_mm_init(struct mm_struct *mm)
{
}

static inline void pt_share_mm_free(struct mm_struct *mm)
{
}

#endif /* CONFIG_PT_SHARE */

#endif /* _LINUX_PT_SHARE_H */
