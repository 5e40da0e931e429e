"""Huffman tree over classes, laid out for the hierarchical softmax kernels.

Internal nodes are numbered 0..C-2 in the order they are created; the root is
node C-2. A node's two children are ids: a class c (< C) or C + j for
internal node j. The first child (the smaller count) is the left branch,
taken with probability sigmoid(-z); the second the right, sigmoid(z).

Ties are broken deterministically: classes are ranked by (count, class
index), and when a class and an internal node have equal counts the class is
merged first (the classic two-queue construction), so the tree depends only
on the counts.
"""
import numpy as np


def huffman_children(counts):
    """children (C - 1, 2) int64 of the Huffman tree of float64 counts (C,).

    >>> huffman_children(np.array([5.0, 1.0, 2.0]))   # node 0 = (1, 2), root = (node 0, 0)
    array([[1, 2],
           [3, 0]])
    """
    n_classes = counts.shape[0]
    order = np.argsort(counts, kind="stable").tolist()
    leaf_counts = counts[order].tolist()
    node_counts = []
    children = []
    next_leaf = next_node = 0

    def pop_smallest():
        nonlocal next_leaf, next_node
        if next_leaf < n_classes and (next_node >= len(node_counts)
                                      or leaf_counts[next_leaf] <= node_counts[next_node]):
            next_leaf += 1
            return order[next_leaf - 1], leaf_counts[next_leaf - 1]
        next_node += 1
        return n_classes + next_node - 1, node_counts[next_node - 1]

    for _ in range(n_classes - 1):
        (left, left_count), (right, right_count) = pop_smallest(), pop_smallest()
        children.append((left, right))
        node_counts.append(left_count + right_count)
    return np.array(children, np.int64).reshape(-1, 2)


def class_paths(children, n_classes):
    """Every class's path from the root in CSR form: (offsets (C + 1,),
    nodes, signs (int8, -1 left / +1 right)), class c's entries at
    offsets[c]:offsets[c + 1], root first; and the code lengths (C,).

    >>> offsets, nodes, signs, lengths = class_paths(np.array([[1, 2], [3, 0]]), 3)
    >>> lengths, nodes[offsets[2]:offsets[3]], signs[offsets[2]:offsets[3]]
    (array([1, 2, 2]), array([1, 0]), array([-1,  1], dtype=int8))
    """
    n_nodes = children.shape[0]
    parent = np.full(n_classes + n_nodes, -1, np.int64)
    side = np.zeros(n_classes + n_nodes, np.int8)
    parent[children[:, 0]] = parent[children[:, 1]] = n_classes + np.arange(n_nodes)
    side[children[:, 1]] = 1
    depth = np.zeros(n_classes + n_nodes, np.int64)
    # parents are created after their children: walk from the root down
    parent_list, depth_list = parent.tolist(), depth.tolist()
    for node in range(n_classes + n_nodes - 2, n_classes - 1, -1):
        depth_list[node] = depth_list[parent_list[node]] + 1
    depth = np.array(depth_list, np.int64)
    depth[:n_classes] = np.where(parent[:n_classes] >= 0, depth[parent[:n_classes]] + 1, 0)
    lengths = depth[:n_classes]
    offsets = np.zeros(n_classes + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    nodes = np.empty(offsets[-1], np.int64)
    signs = np.empty(offsets[-1], np.int8)
    current = np.arange(n_classes)
    position = offsets[:-1] + lengths - 1  # fill each path from its leaf end
    active = np.flatnonzero(lengths > 0)
    while active.size:
        up = parent[current[active]]
        nodes[position[active]] = up - n_classes
        signs[position[active]] = 2 * side[current[active]] - 1
        current[active] = up
        position[active] -= 1
        active = active[parent[up] >= 0]
    return offsets, nodes, signs, lengths
