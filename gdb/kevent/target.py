# SPDX-License-Identifier: GPL-2.0
#
# GDB's side of gdb/kwalk/ (the walk shared with drgn): the target object
# its functions take, on gdb.Value and the kernel's scripts/gdb/linux
# (lists, rbtree, tasks, pgtable).

import gdb

from linux import lists, pgtable, rbtree, tasks, utils

from .base import KeventError, field, pointer_to, symbol_at


class GdbTarget:
    Error = KeventError
    Fault = gdb.MemoryError

    def member(self, v, name):
        return field(v, name)

    def field_names(self, v):
        t = v.type.strip_typedefs()
        if t.code == gdb.TYPE_CODE_PTR:
            t = t.target().strip_typedefs()
        return [f.name for f in t.fields() if f.name]

    def cast(self, addr, tag):
        return gdb.Value(int(addr)).cast(utils.get_ulong_type()).cast(
            pointer_to("struct " + tag))

    def container_of(self, ptr, tag, member):
        return utils.container_of(ptr, pointer_to("struct " + tag), member)

    def address_of(self, v):
        return int(v.address)

    def list_entries(self, head, tag, member):
        return lists.list_for_each_entry(head, pointer_to("struct " + tag), member)

    def rb_entries(self, root, tag, member):
        return rbtree.rb_inorder_for_each_entry(root, pointer_to("struct " + tag), member)

    def tasks(self):
        try:
            # paging is not set up while the guest is halted at reset
            gdb.parse_and_eval("init_task.tasks.next").fetch_lazy()
        except gdb.MemoryError:
            raise KeventError("the kernel has not started yet (init_task cannot "
                              "be read): 'continue' to boot it first")
        return tasks.task_lists()

    def string(self, v):
        return v.string(errors="replace")

    def symbol(self, addr):
        s = symbol_at(addr)
        return None if s.startswith("0x") else s

    def symbol_address(self, name):
        try:
            return int(gdb.parse_and_eval("&" + name))
        except gdb.error:
            return None

    def sizeof(self, tag):
        return pointer_to("struct " + tag).target().sizeof

    def read(self, addr, size):
        return bytes(gdb.selected_inferior().read_memory(addr, size))

    def from_bytes(self, data, tag):
        return gdb.Value(data, pointer_to("struct " + tag).target())

    def _user_to_kernel(self, mm, uaddr):
        """Kernel (direct map) address of user address uaddr in mm, or
        None, walking mm's page tables with the kernel's pgtable helpers
        (so it works whatever process the CPU is running)."""
        pob = int(pgtable._page_offset_base())
        levels = 5 if int(gdb.parse_and_eval("__pgtable_l5_enabled")) else 4
        entry = pgtable.Cr3(int(field(mm, "pgd")) - pob, levels).next_entry(uaddr)
        while entry is not None:
            if not entry.entry_present[1]:
                return None
            if entry.is_page:
                size = 1 << (12 + 9 * (entry.page_hierarchy_level - 1))
                return pob + int(entry.page_physical_address) + (uaddr & (size - 1))
            entry = entry.next_entry(uaddr)
        return None

    def read_user(self, mm, uaddr, length):
        """Bytes at user address uaddr of mm (page by page), or None."""
        data = b""
        while length > 0:
            chunk = min(length, 4096 - (uaddr & 0xfff))
            kaddr = self._user_to_kernel(mm, uaddr)
            if kaddr is None:
                return None
            data += self.read(kaddr, chunk)
            uaddr += chunk
            length -= chunk
        return data
