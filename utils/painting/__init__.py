"""LiDAR painting (PointPainting): project Velodyne points into the segmented camera image, decorate them
with the class scores there, cluster the object classes into a prior for point-cloud clustering.

frames.py lists KITTI frames and reads and writes their point files; paint.py paints one scan;
clusters.py runs DBSCAN per object class; scoring.py measures painted labels and clusters against
the true point labels; pictures.py draws the camera and bird's-eye views; run.py is paint_points.py's loop.
"""
